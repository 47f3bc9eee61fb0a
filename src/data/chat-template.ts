/**
 * Rendering an SFT record as text segments, each marked trainable or not, so
 * the loss can cover only what the model should learn to say (the completion,
 * the assistant turns) and the EOS that ends it. EOS is a token, never text:
 * a segment asks for it with `eos`, and `encodeSegments` inserts the id.
 */
import { z } from 'zod';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import type { SftExample } from './formats.ts';

/**
 * A conversation is rendered turn by turn as
 * `{system}content{turnEnd}`, `{user}content{turnEnd}`, and
 * `{assistant}content` EOS `{turnEnd}`, where the last turnEnd is left out
 * after the final turn (EOS already ends the example).
 */
export const chatTemplateSchema = z.strictObject({
  /** text before a system turn's content */
  system: z.string(),
  /** text before a user turn's content */
  user: z.string(),
  /** text before an assistant turn's content; the prompt a model answers ends with it */
  assistant: z.string(),
  /** text after a turn (after the EOS of an assistant turn) when another turn follows */
  turnEnd: z.string(),
});
export type ChatTemplate = z.infer<typeof chatTemplateSchema>;

/** `System: …\nUser: …\nAssistant: …<EOS>\nUser: …`, the default chat format. */
export const DEFAULT_CHAT_TEMPLATE: ChatTemplate = {
  system: 'System: ',
  user: 'User: ',
  assistant: 'Assistant: ',
  turnEnd: '\n',
};

export interface Segment {
  text: string;
  /** counted in the loss when prompts are masked (everything counts otherwise) */
  trainable: boolean;
  /** an EOS token follows this segment's text, counted like the text */
  eos?: boolean;
}

type Messages = Extract<SftExample, { kind: 'messages' }>['messages'];

/** `followed`: another turn comes after the last message, so it gets its turnEnd too. */
function turnSegments(messages: Messages, template: ChatTemplate, followed: boolean): Segment[] {
  const segments: Segment[] = [];
  messages.forEach((m, i) => {
    const end = followed || i < messages.length - 1 ? template.turnEnd : '';
    if (m.role === 'assistant') {
      segments.push({ text: template.assistant, trainable: false }, { text: m.content, trainable: true, eos: true });
      if (end) segments.push({ text: end, trainable: false });
    } else {
      const prefix = m.role === 'system' ? template.system : template.user;
      segments.push({ text: `${prefix}${m.content}${end}`, trainable: false });
    }
  });
  return segments;
}

/**
 * The segments of one SFT example: `text` is all trainable, then EOS;
 * `prompt` is not trainable, `completion` and its EOS are; a conversation
 * trains only on the assistant turns' content and their EOS.
 */
export function sftSegments(example: SftExample, template: ChatTemplate = DEFAULT_CHAT_TEMPLATE): Segment[] {
  switch (example.kind) {
    case 'text':
      return [{ text: example.text, trainable: true, eos: true }];
    case 'prompt-completion':
      return [
        { text: example.prompt, trainable: false },
        { text: example.completion, trainable: true, eos: true },
      ];
    case 'messages':
      return turnSegments(example.messages, template, false);
  }
}

/**
 * What a model is given to answer a conversation: the turns so far as in
 * training (earlier assistant turns end with EOS), then the assistant prefix.
 */
export function chatPromptSegments(messages: Messages, template: ChatTemplate = DEFAULT_CHAT_TEMPLATE): Segment[] {
  // The same segments as in training, so a BPE tokenizer gives the same tokens.
  const segments = turnSegments(messages, template, true).map((s) => ({ ...s, trainable: false }));
  return [...segments, { text: template.assistant, trainable: false }];
}

/**
 * The conversation prompt as a string. A string can't hold EOS tokens, so
 * earlier assistant turns miss theirs; use `chatPromptSegments` with
 * `encodeSegments` for token-exact multi-turn prompts.
 */
export function chatPrompt(example: { messages: Messages }, template: ChatTemplate = DEFAULT_CHAT_TEMPLATE): string {
  return chatPromptSegments(example.messages, template)
    .map((s) => s.text)
    .join('');
}

/**
 * Tokens of the segments and, per token, whether it is trainable. Each
 * segment is encoded on its own, so a BPE merge never crosses the border
 * between prompt and response: generation, which encodes the prompt alone,
 * sees the same prompt tokens as training.
 */
export function encodeSegments(segments: readonly Segment[], tokenizer: Tokenizer): { tokens: Int32Array; trainable: Uint8Array } {
  const pieces = segments.map((s) => tokenizer.encode(s.text));
  const length = pieces.reduce((n, p, i) => n + p.length + (segments[i]!.eos ? 1 : 0), 0);
  const tokens = new Int32Array(length);
  const trainable = new Uint8Array(length);
  let at = 0;
  segments.forEach((s, i) => {
    const end = at + pieces[i]!.length + (s.eos ? 1 : 0);
    tokens.set(pieces[i]!, at);
    if (s.eos) tokens[end - 1] = tokenizer.eosId;
    trainable.fill(s.trainable ? 1 : 0, at, end);
    at = end;
  });
  return { tokens, trainable };
}
