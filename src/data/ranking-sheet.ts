/**
 * Rankings checked against the sheet they were made from. `sample` writes a
 * sheet {"prompt","responses":[…]} a line; a person replaces each line's
 * "responses" with "ranking": [best, …, worst]. A ranked file that drifted
 * from its sheet (a line lost or moved, a response dropped, retyped or pasted
 * from another line) still reads as valid rankings and would train a reward
 * model on comparisons nobody made; here each such line is named, with the
 * sheet's line it should match, before anything is trained.
 */
import { z } from 'zod';
import { IGNORED_KEYS, parsePreferenceRecord } from './formats.ts';
import { parseJsonl, type JsonlRecord } from './jsonl.ts';

/** A line of the sheet `sample` writes: its responses are distinct, at least two. */
export const sheetLine = z.strictObject({
  prompt: z.string({ error: (issue) => (issue.input === undefined ? 'missing field "prompt"' : '"prompt" must be a string') }),
  responses: z
    .array(z.string({ error: 'must be a string' }).min(1, 'must not be empty'), {
      error: (issue) => (issue.input === undefined ? 'missing field "responses"' : '"responses" must be a list of responses'),
    })
    .min(2, '"responses" needs at least 2 responses to rank'),
});

/** Problems listed in full before "and N more". */
export const SHOWN_PROBLEMS = 10;

/** Text quoted in a message, cut short (by code points, so no emoji is split) when long. */
export function quoteText(text: string, max = 60): string {
  const chars = Array.from(text);
  return JSON.stringify(chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : text);
}

const list = (texts: readonly string[]) => texts.map((t) => quoteText(t)).join(', ');
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function readSheetLine(source: string, { line, value }: JsonlRecord): string | { prompt: string; responses: string[] } {
  const record = { ...value };
  for (const k of IGNORED_KEYS) delete record[k];
  const parsed = sheetLine.safeParse(record);
  if (parsed.success) return parsed.data;
  // Most likely the two files given the other way round.
  if ('ranking' in record && !('responses' in record)) {
    return `${source}:${line}: holds a "ranking", not "responses": a ranked line, where a line of the sheet \`sample\` wrote is expected`;
  }
  const issue = parsed.error.issues[0]!;
  // Messages of the whole record or a top-level field name their field; a response is named by its index.
  const what =
    issue.code === 'unrecognized_keys'
      ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`
      : issue.path.length > 1
        ? `"responses"[${String(issue.path[1])}] ${issue.message}`
        : issue.message;
  return `${source}:${line}: not a line of a sheet {"prompt","responses":[…]}: ${what}`;
}

/**
 * Every way `ranked` fails to rank `sheet` line for line, each starting with
 * the file and line to fix; none when it ranks every response of every line,
 * in the sheet's order. Lines are matched by position (blank lines aside), as
 * a person edits the sheet in place. Invalid JSON in either file throws, as
 * the loaders do; a ranked line in the wrong shape is one problem among the rest.
 */
export function rankingSheetProblems(ranked: string, rankedSource: string, sheet: string, sheetSource: string): string[] {
  const sheetRecords = parseJsonl(sheet, sheetSource);
  // Checked before parsing: parseJsonl's "no records" would not say what an empty ranked file means here.
  if (ranked.replace(/^\uFEFF/, '').trim() === '') {
    return [`${rankedSource}: no rankings (the file is empty): an empty round; rank the ${plural(sheetRecords.length, 'line')} of ${sheetSource}`];
  }
  const rankedRecords = parseJsonl(ranked, rankedSource);
  const problems: string[] = [];
  const R = rankedSource;
  const S = sheetSource;
  const shared = Math.min(rankedRecords.length, sheetRecords.length);
  for (let i = 0; i < shared; i++) {
    const r = rankedRecords[i]!;
    const s = readSheetLine(S, sheetRecords[i]!);
    if (typeof s === 'string') {
      problems.push(s);
      continue;
    }
    const at = `${R}:${r.line}`;
    const of = `${S}:${sheetRecords[i]!.line}`;
    if ('responses' in r.value && !('ranking' in r.value)) {
      problems.push(`${at}: not ranked yet: replace "responses" with "ranking": [best, …, worst], every response of ${of}`);
      continue;
    }
    let record;
    try {
      record = parsePreferenceRecord(r, R);
    } catch (e) {
      problems.push((e as Error).message);
      continue;
    }
    if (record.kind === 'pair') {
      problems.push(`${at}: a pair {"prompt","chosen","rejected"}, not a ranking of ${of}'s responses: write "ranking": [best, …, worst]`);
      continue;
    }
    if (record.prompt !== s.prompt) {
      // The rest of the line is not compared: its responses belong to another prompt.
      problems.push(
        `${at}: prompt ${quoteText(record.prompt)} is not the prompt of ${of}, the sheet's line at the same position (${quoteText(s.prompt)}); ` +
          'keep the sheet\'s lines, in its order',
      );
      continue;
    }
    const inSheet = new Set(s.responses);
    const inRanking = new Set(record.ranking);
    const missing = s.responses.filter((x) => !inRanking.has(x));
    const invented = record.ranking.filter((x) => !inSheet.has(x));
    if (missing.length > 0) {
      problems.push(`${at}: the ranking leaves out ${plural(missing.length, 'response')} of ${of}: ${list(missing)}; rank every response, best first`);
    }
    if (invented.length > 0) {
      problems.push(
        `${at}: the ranking holds ${plural(invented.length, 'response')} that ${of} does not: ${list(invented)}; ` +
          'rank the sampled responses as they are written, unchanged',
      );
    }
  }
  if (rankedRecords.length > shared) {
    const extra = rankedRecords.length - shared;
    problems.push(
      `${R}:${rankedRecords[shared]!.line}: ${plural(extra, 'line')} more than ${S} has, from here on ` +
        `(${plural(rankedRecords.length, 'ranking')} for ${plural(sheetRecords.length, 'sheet line')}); a ranked file ranks its sheet line for line`,
    );
  } else if (sheetRecords.length > shared) {
    const missing = sheetRecords.length - shared;
    problems.push(
      `${S}:${sheetRecords[shared]!.line}: ${plural(missing, 'line')} of the sheet, from here on, ${missing === 1 ? 'has' : 'have'} no ranking: ` +
        `${R} ends after ${plural(shared, 'ranking')} (its line ${rankedRecords.at(-1)!.line})`,
    );
  }
  return problems;
}

/** Throws, naming the first SHOWN_PROBLEMS problems and counting the rest, unless `ranked` ranks `sheet` line for line. */
export function checkRankingSheet(ranked: string, rankedSource: string, sheet: string, sheetSource: string): void {
  const problems = rankingSheetProblems(ranked, rankedSource, sheet, sheetSource);
  if (problems.length === 0) return;
  if (problems.length === 1) throw new Error(problems[0]);
  const shown = problems.slice(0, SHOWN_PROBLEMS).map((p) => `\n  ${p}`).join('');
  const more = problems.length > SHOWN_PROBLEMS ? `\n  and ${problems.length - SHOWN_PROBLEMS} more` : '';
  throw new Error(`${rankedSource} does not rank ${sheetSource} line for line (${problems.length} problems):${shown}${more}`);
}
