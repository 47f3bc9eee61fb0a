import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IGNORED_KEYS, loadPreferenceRecords, loadPrompts, loadSftExamples } from '../../src/data/formats.ts';

const F = 'data.jsonl';
const fixture = (name: string) => join(import.meta.dirname, '../fixtures/data', name);
const load = <T>(loader: (text: string, source: string) => T, name: string) => loader(readFileSync(fixture(name), 'utf8'), name);

/** `line` as line 2 of a file, so every message must carry the right line number. */
const second = (line: string) => `{"text":"ok"}\n${line}`;

describe('SFT records', () => {
  it('reads all three TRL shapes, ignoring "id"', () => {
    expect(IGNORED_KEYS).toEqual(['id']);
    const ex = load(loadSftExamples, 'sft-shapes.jsonl');
    expect(ex.map((e) => [e.kind, e.line])).toEqual([
      ['prompt-completion', 1],
      ['messages', 2],
      ['text', 4],
    ]);
    expect(ex[0]).toEqual({ kind: 'prompt-completion', line: 1, prompt: 'Translate to French: cat\n', completion: 'chat' });
    expect(ex[1]!.kind === 'messages' && ex[1]!.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user', 'assistant']);
    expect(ex[2]).toEqual({ kind: 'text', line: 4, text: 'Once upon a time — naïve café, 日本語 🤗' });
  });

  it('reads the SFT fixture of the stage tests', () => {
    expect(load(loadSftExamples, 'sft.jsonl').length).toBe(40);
  });

  it('accepts an empty prompt (the completion is then the whole example)', () => {
    expect(loadSftExamples('{"prompt":"","completion":"A"}', F)).toEqual([{ kind: 'prompt-completion', line: 1, prompt: '', completion: 'A' }]);
  });

  it.each([
    // prompt / completion
    ['{"prompt":"Q"}', 'missing field "completion"'],
    ['{"completion":"A"}', 'missing field "prompt"'],
    ['{"prompt":3,"completion":"A"}', '"prompt" must be a string'],
    ['{"prompt":"Q","completion":null}', '"completion" must be a string'],
    ['{"prompt":"Q","completion":""}', '"completion" must not be empty'],
    ['{"prompt":"Q","completion":"A","extra":1}', 'unknown field "extra" (a {"prompt","completion"} record has only those fields and "id")'],
    ['{"prompt":"Q","completon":"A"}', 'missing field "completion"; unknown field "completon"'],
    // messages
    ['{"messages":[{"role":"user","content":"hi"}]}', '"messages" has no assistant turn'],
    ['{"messages":[]}', '"messages" has no assistant turn'],
    ['{"messages":"hi"}', '"messages" must be a list of {"role","content"} objects'],
    ['{"messages":["hi"]}', 'messages[0] must be an object {"role","content"}'],
    ['{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"bot","content":"c"}]}', 'messages[2].role must be one of system, user, assistant'],
    ['{"messages":[{"content":"hi"}]}', 'missing field messages[0].role'],
    ['{"messages":[{"role":"assistant"}]}', 'missing field messages[0].content'],
    ['{"messages":[{"role":"assistant","content":7}]}', 'messages[0].content must be a string'],
    ['{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":""}]}', 'messages[1].content must not be empty (an assistant turn)'],
    ['{"messages":[{"role":"assistant","content":"a","name":"bob"}]}', 'messages[0] has unknown field "name"'],
    // text
    ['{"text":""}', '"text" must not be empty'],
    ['{"text":["a"]}', '"text" must be a string'],
    // no shape, or two
    ['{"question":"Q"}', 'expected {"prompt","completion"}, {"messages":[…]} or {"text"}, got the fields "question"'],
    ['{}', 'expected {"prompt","completion"}, {"messages":[…]} or {"text"}, got no fields'],
    ['{"id":5}', 'expected {"prompt","completion"}, {"messages":[…]} or {"text"}, got no fields'],
    ['{"text":"a","completion":"b"}', 'mixes two formats ("completion" of {"prompt","completion"} and "text" of {"text"})'],
    ['{"prompt":"a","messages":[]}', 'mixes two formats ("prompt" of {"prompt","completion"} and "messages" of {"messages":[…]})'],
  ])('rejects %s', (line, message) => {
    expect(() => loadSftExamples(second(line), F)).toThrow(`${F}:2: ${message}`);
  });

  it('rejects an empty file', () => {
    expect(() => loadSftExamples('\n', 'empty.jsonl')).toThrow('empty.jsonl: no records (the file is empty)');
  });
});

describe('preference records', () => {
  it('reads pairs (with an optional margin) and rankings', () => {
    expect(load(loadPreferenceRecords, 'preferences.jsonl')).toEqual([
      { kind: 'pair', line: 1, prompt: '2+2=', chosen: '4', rejected: '5' },
      { kind: 'pair', line: 2, prompt: 'Capital of France?', chosen: ' Paris', rejected: ' Lyon', margin: 2 },
      { kind: 'ranking', line: 3, prompt: 'Say hi.', ranking: ['Hi!', 'hi', 'Go away.'] },
    ]);
  });

  it.each([
    ['{"prompt":"p","ranking":["only"]}', '"ranking" needs at least 2 responses to compare'],
    ['{"prompt":"p","ranking":[]}', '"ranking" needs at least 2 responses to compare'],
    ['{"prompt":"p","ranking":"a > b"}', '"ranking" must be a list of responses, best first'],
    ['{"prompt":"p","ranking":["a",""]}', 'ranking[1] must not be empty'],
    ['{"prompt":"p","ranking":["a",2]}', 'ranking[1] must be a string'],
    ['{"ranking":["a","b"]}', 'missing field "prompt"'],
    ['{"prompt":"p","chosen":"","rejected":"b"}', '"chosen" must not be empty'],
    ['{"prompt":"p","chosen":"a","rejected":""}', '"rejected" must not be empty'],
    ['{"prompt":"p","chosen":"a"}', 'missing field "rejected"'],
    ['{"prompt":"p","chosen":"a","rejected":"b","margin":"big"}', '"margin" must be a number'],
    ['{"prompt":"p","chosen":"a","rejected":"b","score":1}', 'unknown field "score"'],
    ['{"prompt":"p"}', 'expected {"prompt","chosen","rejected"} or {"prompt","ranking":[best, …, worst]}, got the fields "prompt"'],
    ['{"prompt":"p","chosen":"a","rejected":"b","ranking":["a","b"]}', 'mixes two formats'],
  ])('rejects %s', (line, message) => {
    expect(() => loadPreferenceRecords(`{"prompt":"p","chosen":"a","rejected":"b"}\n${line}`, F)).toThrow(`${F}:2: ${message}`);
  });
});

describe('prompt records', () => {
  it('reads prompts, ignoring "id"', () => {
    expect(load(loadPrompts, 'prompts.jsonl')).toEqual([
      { line: 1, prompt: 'User: Say hello to Ada.\nAssistant: ' },
      { line: 2, prompt: 'User: What is 2 plus 3?\nAssistant: ' },
    ]);
  });

  it.each([
    ['{"prompt":""}', '"prompt" must not be empty'],
    ['{"prompt":1}', '"prompt" must be a string'],
    ['{"text":"hi"}', 'missing field "prompt"'],
    ['{"prompt":"hi","completion":"x"}', 'unknown field "completion"'],
  ])('rejects %s', (line, message) => {
    expect(() => loadPrompts(`{"prompt":"ok"}\n\n${line}`, F)).toThrow(`${F}:3: ${message}`);
  });
});
