import { describe, expect, it } from 'vitest';
import {
  chatPrompt,
  chatPromptSegments,
  chatTemplateSchema,
  DEFAULT_CHAT_TEMPLATE,
  encodeSegments,
  sftSegments,
  type Segment,
} from '../../src/data/chat-template.ts';
import type { SftExample } from '../../src/data/formats.ts';
import { createTokenizer } from '../../src/tokenizer/index.ts';

type Turn = { role: 'system' | 'user' | 'assistant'; content: string };
const conversation = (...messages: Turn[]): SftExample => ({ kind: 'messages', line: 1, messages });
const user = (content: string): Turn => ({ role: 'user', content });
const assistant = (content: string): Turn => ({ role: 'assistant', content });
const system = (content: string): Turn => ({ role: 'system', content });

/** The segments as one string, EOS written as <EOS>, trainable parts in [brackets]. */
const show = (segments: Segment[]) => segments.map((s) => (s.trainable ? `[${s.text}${s.eos ? '<EOS>' : ''}]` : `${s.text}${s.eos ? '<EOS>' : ''}`)).join('');

describe('chat template', () => {
  it('renders System/User/Assistant turns, EOS after each assistant turn, then a newline before the next turn', () => {
    const segments = sftSegments(conversation(system('Be brief.'), user('2+2?'), assistant('4'), user('And 3+3?'), assistant('6')));
    expect(show(segments)).toBe('System: Be brief.\nUser: 2+2?\nAssistant: [4<EOS>]\nUser: And 3+3?\nAssistant: [6<EOS>]');
  });

  it('trains on the completion and its EOS, not the prompt', () => {
    expect(show(sftSegments({ kind: 'prompt-completion', line: 1, prompt: 'Q: 1+1?', completion: ' 2' }))).toBe('Q: 1+1?[ 2<EOS>]');
  });

  it('trains on all of a text record, then EOS', () => {
    expect(show(sftSegments({ kind: 'text', line: 1, text: 'plain' }))).toBe('[plain<EOS>]');
  });

  it('leaves a trailing user turn untrained and without a newline', () => {
    expect(show(sftSegments(conversation(user('a'), assistant('b'), user('c'))))).toBe('User: a\nAssistant: [b<EOS>]\nUser: c');
  });

  it('takes a custom template', () => {
    const template = { system: '<sys>', user: '### Human: ', assistant: '### Bot: ', turnEnd: '\n\n' };
    expect(chatTemplateSchema.parse(template)).toEqual(template);
    expect(show(sftSegments(conversation(system('s'), user('hi'), assistant('yo'), user('bye'), assistant('ok')), template))).toBe(
      '<sys>s\n\n### Human: hi\n\n### Bot: [yo<EOS>]\n\n### Human: bye\n\n### Bot: [ok<EOS>]',
    );
  });

  it('rejects a template with unknown or missing keys', () => {
    expect(chatTemplateSchema.safeParse({ ...DEFAULT_CHAT_TEMPLATE, assistent: 'x' }).success).toBe(false);
    expect(chatTemplateSchema.safeParse({ user: 'U: ' }).success).toBe(false);
  });

  it('encodes EOS as the token, never as text', () => {
    const bytes = createTokenizer('bytes');
    const { tokens, trainable } = encodeSegments(sftSegments(conversation(user('hi'), assistant('yo'), user('x'), assistant('z'))), bytes);
    expect(bytes.decode(tokens)).toBe('User: hi\nAssistant: yo\nUser: x\nAssistant: z');
    const eos = [...tokens.keys()].filter((i) => tokens[i] === bytes.eosId);
    expect(eos).toHaveLength(2);
    expect(tokens[eos[0]! + 1]).toBe('\n'.charCodeAt(0)); // the newline comes after the EOS token
    expect(trainable[eos[0]! + 1]).toBe(0);
    expect(bytes.decode(tokens.filter((_, i) => trainable[i]))).toBe('yoz');
    expect(tokens.filter((_, i) => trainable[i]).filter((id) => id === bytes.eosId)).toHaveLength(2);
  });
});

describe('chat prompts for generation', () => {
  it('end with the assistant prefix', () => {
    expect(chatPrompt({ messages: [user('hi')] })).toBe('User: hi\nAssistant: ');
    expect(chatPrompt({ messages: [system('s'), user('hi')] })).toBe('System: s\nUser: hi\nAssistant: ');
  });

  it.each(['bytes', 'gpt2'])('give (%s) exactly the tokens that precede the answer in training, EOS of earlier turns included', (name) => {
    const tokenizer = createTokenizer(name);
    const history = [system('Be brief.'), user('Hello there'), assistant('Hi!'), user('  spaced  words ')];
    const prompt = encodeSegments(chatPromptSegments(history), tokenizer);
    const training = encodeSegments(sftSegments(conversation(...history, assistant('Sure.'))), tokenizer);
    expect([...training.tokens.subarray(0, prompt.tokens.length)]).toEqual([...prompt.tokens]);
    expect(prompt.tokens.includes(tokenizer.eosId)).toBe(true);
    expect(prompt.trainable.every((t) => t === 0)).toBe(true);
    // what follows in training is exactly the answer and its EOS
    expect([...training.tokens.subarray(prompt.tokens.length)]).toEqual([...tokenizer.encode('Sure.'), tokenizer.eosId]);
  });
});
