import { describe, expect, it } from 'vitest';
import { loadPreferenceRecords, loadPrompts, loadSftExamples } from '../../src/data/formats.ts';
import { parseJsonl } from '../../src/data/jsonl.ts';

const F = 'data.jsonl';

describe('JSONL', () => {
  it('skips blank lines, accepts CRLF and a BOM, and numbers lines from 1', () => {
    const recs = parseJsonl('\uFEFF{"a":1}\r\n\r\n{"a":2}\n', F);
    expect(recs.map((r) => r.line)).toEqual([1, 3]);
  });
  it.each([
    ['{"prompt": "x"}\n{"prompt": oops}', `${F}:2: invalid JSON`],
    ['[1,2]', `${F}:1: expected a JSON object, got an array`],
    ['"text"', `${F}:1: expected a JSON object, got "text"`],
    ['', `${F}: no records (the file is empty)`],
    ['\n  \n', `${F}: no records (the file is empty)`],
  ])('rejects %j naming file and line', (text, message) => {
    expect(() => parseJsonl(text, F)).toThrow(message);
  });
});

describe('SFT records', () => {
  it('reads all three TRL shapes', () => {
    const ex = loadSftExamples(
      [
        '{"prompt":"Q","completion":"A"}',
        '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}',
        '{"text":"plain","id":7}',
      ].join('\n'),
      F,
    );
    expect(ex.map((e) => e.kind)).toEqual(['prompt-completion', 'messages', 'text']);
  });
  it.each([
    ['{"prompt":"Q"}', `${F}:1: missing field "completion"`],
    ['{"prompt":3,"completion":"A"}', `${F}:1: "prompt" must be a string`],
    ['{"prompt":"Q","completion":""}', `${F}:1: "completion" must not be empty`],
    ['{"prompt":"Q","completion":"A","extra":1}', `${F}:1: unknown field "extra"`],
    ['{"messages":[{"role":"user","content":"hi"}]}', `${F}:1: "messages" has no assistant turn`],
    ['{"messages":[{"role":"bot","content":"hi"}]}', `${F}:1: "messages"[0].role must be one of system, user, assistant`],
    ['{"question":"Q"}', `${F}:1: expected {"prompt","completion"}, {"messages":[…]} or {"text"}, got the fields "question"`],
  ])('rejects %s', (line, message) => {
    expect(() => loadSftExamples(`{"text":"ok"}\n${line}`.replace(/^/, ''), F)).toThrow(message.replace(':1:', ':2:'));
  });
});

describe('preference and prompt records', () => {
  it('reads pairs (with margin) and rankings', () => {
    const recs = loadPreferenceRecords(
      '{"prompt":"p","chosen":"a","rejected":"b","margin":0.5}\n{"prompt":"p","ranking":["a","b","c"]}',
      F,
    );
    expect(recs).toEqual([
      { kind: 'pair', line: 1, prompt: 'p', chosen: 'a', rejected: 'b', margin: 0.5 },
      { kind: 'ranking', line: 2, prompt: 'p', ranking: ['a', 'b', 'c'] },
    ]);
  });
  it.each([
    ['{"prompt":"p","ranking":["only"]}', `${F}:1: "ranking" needs at least 2 responses to compare`],
    ['{"prompt":"p","chosen":"","rejected":"b"}', `${F}:1: "chosen" must not be empty`],
    ['{"prompt":"p","chosen":"a"}', `${F}:1: missing field "rejected"`],
  ])('rejects %s', (line, message) => {
    expect(() => loadPreferenceRecords(line, F)).toThrow(message);
  });
  it('reads prompts and rejects an empty one', () => {
    expect(loadPrompts('{"prompt":"hi"}', F)).toEqual([{ line: 1, prompt: 'hi' }]);
    expect(() => loadPrompts('{"prompt":""}', F)).toThrow(`${F}:1: "prompt" must not be empty`);
  });
});
