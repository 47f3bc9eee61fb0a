import { describe, expect, it } from 'vitest';
import { checkRankingSheet, quoteText, rankingSheetProblems, SHOWN_PROBLEMS } from '../../src/data/ranking-sheet.ts';

const S = 'to-rank.jsonl';
const R = 'ranked.jsonl';
const jsonl = (...records: object[]) => `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;
const SHEET = jsonl({ prompt: 'Q: ', responses: ['a', 'b', 'c'] }, { prompt: 'Hi: ', responses: ['x', 'y'] }, { prompt: 'Say: ', responses: ['m', 'n'] });
const RANKED = [
  { prompt: 'Q: ', ranking: ['c', 'a', 'b'] },
  { prompt: 'Hi: ', ranking: ['y', 'x'] },
  { prompt: 'Say: ', ranking: ['n', 'm'] },
];
/** The good ranking with line `i` (0-based) replaced. */
const withLine = (i: number, record: object) => jsonl(...RANKED.map((r, k) => (k === i ? record : r)));
const problems = (ranked: string, sheet = SHEET) => rankingSheetProblems(ranked, R, sheet, S);

describe('rankings checked against their sheet', () => {
  it('accepts every response of every line ranked, in the sheet order, with "id" and blank lines', () => {
    expect(problems(jsonl(...RANKED))).toEqual([]);
    expect(problems(`\n${jsonl({ id: 7, ...RANKED[0] }, ...RANKED.slice(1))}\n\n`)).toEqual([]);
    expect(() => checkRankingSheet(jsonl(...RANKED), R, SHEET, S)).not.toThrow();
  });

  it('names a prompt that is not the prompt of the sheet line at its position, with both prompts', () => {
    expect(problems(withLine(1, { prompt: 'Hello: ', ranking: ['y', 'x'] }))).toEqual([
      `${R}:2: prompt "Hello: " is not the prompt of ${S}:2, the sheet's line at the same position ("Hi: "); keep the sheet's lines, in its order`,
    ]);
    // Swapped lines: both named.
    expect(problems(jsonl(RANKED[1]!, RANKED[0]!, RANKED[2]!)).map((p) => p.slice(0, p.indexOf(' is not')))).toEqual([
      `${R}:1: prompt "Hi: "`,
      `${R}:2: prompt "Q: "`,
    ]);
  });

  it('cuts long prompts short in messages', () => {
    const long = 'x'.repeat(200);
    const [p] = problems(withLine(0, { prompt: long, ranking: ['c', 'a', 'b'] }));
    expect(p).toContain(quoteText(long));
    expect(quoteText(long)).toBe(`"${'x'.repeat(59)}…"`);
    expect(quoteText('🤗'.repeat(70))).toBe(`"${'🤗'.repeat(59)}…"`);
    expect(quoteText('short')).toBe('"short"');
  });

  it('names responses left out of a ranking, and responses the sheet line does not hold', () => {
    expect(problems(withLine(0, { prompt: 'Q: ', ranking: ['c', 'a'] }))).toEqual([
      `${R}:1: the ranking leaves out 1 response of ${S}:1: "b"; rank every response, best first`,
    ]);
    expect(problems(withLine(0, { prompt: 'Q: ', ranking: ['c', 'a', 'b', 'x'] }))).toEqual([
      `${R}:1: the ranking holds 1 response that ${S}:1 does not: "x"; rank the sampled responses as they are written, unchanged`,
    ]);
    // An edited response: one left out, one invented.
    expect(problems(withLine(2, { prompt: 'Say: ', ranking: ['n', 'M'] }))).toEqual([
      `${R}:3: the ranking leaves out 1 response of ${S}:3: "m"; rank every response, best first`,
      `${R}:3: the ranking holds 1 response that ${S}:3 does not: "M"; rank the sampled responses as they are written, unchanged`,
    ]);
    expect(problems(withLine(0, { prompt: 'Q: ', ranking: ['a', 'z'] }))[0]).toBe(
      `${R}:1: the ranking leaves out 2 responses of ${S}:1: "b", "c"; rank every response, best first`,
    );
  });

  it('names a repeated response, an unranked line, a pair and a malformed line, and goes on past them', () => {
    const ranked = jsonl(
      { prompt: 'Q: ', ranking: ['c', 'a', 'c'] },
      { prompt: 'Hi: ', responses: ['x', 'y'] },
      { prompt: 'Say: ', chosen: 'n', rejected: 'm' },
    );
    expect(problems(ranked)).toEqual([
      `${R}:1: "ranking" holds the same response at positions 1 and 3 (a ranking orders different responses, best first); remove the repeat`,
      `${R}:2: not ranked yet: replace "responses" with "ranking": [best, …, worst], every response of ${S}:2`,
      `${R}:3: a pair {"prompt","chosen","rejected"}, not a ranking of ${S}:3's responses: write "ranking": [best, …, worst]`,
    ]);
    expect(problems(withLine(1, { prompt: 'Hi: ', ranking: 'y' }))).toEqual([`${R}:2: "ranking" must be a list of responses, best first`]);
  });

  it('names the file with lines left over, from which line', () => {
    expect(problems(jsonl(...RANKED.slice(0, 1)))).toEqual([`${S}:2: 2 lines of the sheet, from here on, have no ranking: ${R} ends after 1 ranking (its line 1)`]);
    expect(problems(jsonl(...RANKED, { prompt: 'More: ', ranking: ['p', 'q'] }))).toEqual([
      `${R}:4: 1 line more than ${S} has, from here on (4 rankings for 3 sheet lines); a ranked file ranks its sheet line for line`,
    ]);
  });

  it('calls an empty ranked file an empty round', () => {
    for (const empty of ['', '\n\n', '\uFEFF \r\n']) {
      expect(problems(empty)).toEqual([`${R}: no rankings (the file is empty): an empty round; rank the 3 lines of ${S}`]);
    }
    expect(() => checkRankingSheet('', R, SHEET, S)).toThrow(`${R}: no rankings (the file is empty): an empty round`);
  });

  it('names a sheet line that is not a sheet line', () => {
    const sheet = jsonl({ prompt: 'Q: ', responses: ['a'] }, { prompt: 'Hi: ', responses: ['x', 7] }, { prompt: 'Say: ', ranking: ['m', 'n'] });
    expect(problems(jsonl(...RANKED), sheet)).toEqual([
      `${S}:1: not a line of a sheet {"prompt","responses":[…]}: "responses" needs at least 2 responses to rank`,
      `${S}:2: not a line of a sheet {"prompt","responses":[…]}: "responses"[1] must be a string`,
      `${S}:3: holds a "ranking", not "responses": a ranked line, where a line of the sheet \`sample\` wrote is expected`,
    ]);
    expect(problems(jsonl(...RANKED), jsonl({ prompt: 'Q: ', responses: ['a', 'b'], extra: 1 }, { responses: ['x', 'y'] }, { prompt: 'Say: ' }))).toEqual([
      `${S}:1: not a line of a sheet {"prompt","responses":[…]}: unknown field "extra"`,
      `${S}:2: not a line of a sheet {"prompt","responses":[…]}: missing field "prompt"`,
      `${S}:3: not a line of a sheet {"prompt","responses":[…]}: missing field "responses"`,
    ]);
    expect(() => problems(jsonl(...RANKED), '{"prompt": \n')).toThrow(`${S}:1: invalid JSON`);
  });

  it('throws one problem as it is, and many as a list cut after the first ten', () => {
    expect(() => checkRankingSheet(withLine(0, { prompt: 'Q: ', ranking: ['c', 'a'] }), R, SHEET, S)).toThrow(
      new Error(`${R}:1: the ranking leaves out 1 response of ${S}:1: "b"; rank every response, best first`),
    );
    const n = 14;
    const sheet = jsonl(...Array.from({ length: n }, (_, i) => ({ prompt: `P${i}`, responses: ['a', 'b'] })));
    const ranked = jsonl(...Array.from({ length: n - 1 }, (_, i) => ({ prompt: `P${i + 1}`, ranking: ['a', 'b'] })));
    let message = '';
    try {
      checkRankingSheet(ranked, R, sheet, S);
    } catch (e) {
      message = (e as Error).message;
    }
    const lines = message.split('\n');
    expect(lines[0]).toBe(`${R} does not rank ${S} line for line (${n} problems):`);
    expect(lines.slice(1, 1 + SHOWN_PROBLEMS).every((l, i) => l.startsWith(`  ${R}:${i + 1}: prompt "P${i + 1}" is not the prompt of ${S}:${i + 1}`))).toBe(true);
    expect(lines.slice(1 + SHOWN_PROBLEMS)).toEqual([`  and ${n - SHOWN_PROBLEMS} more`]);
  });
});
