import { describe, expect, it } from 'vitest';
import { parseJsonl } from '../../src/data/jsonl.ts';

const F = 'data.jsonl';

describe('parseJsonl', () => {
  it('skips blank lines and numbers lines from 1 as an editor does', () => {
    const recs = parseJsonl('{"a":1}\n\n   \n{"a":2}\n', F);
    expect(recs).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 4, value: { a: 2 } },
    ]);
  });

  it('accepts CRLF line ends and a UTF-8 byte-order mark', () => {
    const recs = parseJsonl('\uFEFF{"a":1}\r\n\r\n{"a":"x\\r\\n"}\r\n', F);
    expect(recs).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 3, value: { a: 'x\r\n' } },
    ]);
  });

  it.each([
    ['{"prompt": "x"}\n{"prompt": oops}', `${F}:2: invalid JSON: `],
    ['{"a":1}\r\n\r\n{"a":1', `${F}:3: invalid JSON: `],
    ['{"a":1}\n{"a":1}{"b":2}', `${F}:2: invalid JSON: `],
    ['[1,2]', `${F}:1: expected a JSON object, got an array`],
    ['{"a":1}\n"text"', `${F}:2: expected a JSON object, got a string`],
    ['42', `${F}:1: expected a JSON object, got a number`],
    ['null', `${F}:1: expected a JSON object, got null`],
    ['', `${F}: no records (the file is empty)`],
    ['\uFEFF', `${F}: no records (the file is empty)`],
    ['\n  \r\n\n', `${F}: no records (the file is empty)`],
  ])('rejects %j naming the file and line', (text, message) => {
    expect(() => parseJsonl(text, F)).toThrow(message);
  });

  it("gives the parser's own detail for invalid JSON", () => {
    expect(() => parseJsonl('{"a":', F)).toThrow(/^data\.jsonl:1: invalid JSON: .+/);
  });
});
