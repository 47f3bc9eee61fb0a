import { describe, expect, it } from 'vitest';
import { loadPreferenceRecords } from '../../src/data/formats.ts';
import { tokenizePreferences } from '../../src/data/preferences.ts';
import { createTokenizer } from '../../src/tokenizer/index.ts';

const load = (...lines: string[]) => loadPreferenceRecords(lines.join('\n'), 'prefs.jsonl');

describe('preferences that compare a response with itself', () => {
  it('stop with the file and line: chosen = rejected', () => {
    expect(() => load('{"prompt":"p","chosen":"a","rejected":"b"}', '{"prompt":"q","chosen":"same","rejected":"same","margin":1}')).toThrow(
      'prefs.jsonl:2: "chosen" and "rejected" are the same response: the pair prefers neither; correct one side or remove the line',
    );
  });

  it('stop with the file, line and positions: a ranking that repeats a response (adjacent or not)', () => {
    expect(() => load('{"prompt":"p","ranking":["a","b","a"]}')).toThrow(
      'prefs.jsonl:1: "ranking" holds the same response at positions 1 and 3 (a ranking orders different responses, best first); remove the repeat',
    );
    expect(() => load('{"prompt":"p","ranking":["a","b"]}', '', '{"prompt":"p","ranking":["x","y","y","z"]}')).toThrow(
      'prefs.jsonl:3: "ranking" holds the same response at positions 2 and 3',
    );
  });

  it('accept responses that differ in any character, and train on every pair of them', () => {
    const records = load('{"prompt":"p","chosen":"a","rejected":"a "}', '{"prompt":"p","ranking":["x","X","x."]}');
    const t = tokenizePreferences(records, createTokenizer('bytes'), { maxLength: 16, maxGroupSize: 8 });
    expect(t.comparisons).toBe(1 + 3);
    expect(t.skipped).toEqual([]);
  });
});
