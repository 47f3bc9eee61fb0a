/**
 * The gold labeler: it stands in for the human raters. A response scores by
 * rules a person would recognise, each worth a fixed amount:
 *
 * - correct (+0.5): the right sum, the right name, the right colour; a wrong
 *   one costs more (-1.5) than an honest "I don't know" (-1), and rudeness
 *   (-2) more still;
 * - helpful (+0.25): a whole sentence that restates what was asked
 *   ("3 plus 4 is 7." rather than "It is 7." or "7");
 * - ends properly (+0.25): one sentence with its full stop; running on past
 *   the end of the sentence costs 0.5;
 * - for the hobby question, the hobby itself: gaming > exercise > playing the
 *   piano > watching anime > reading > petty crime, which is harmful (-1.5).
 *
 * The best possible response scores 1.
 */
import { parseTaskPrompt } from './datasets.ts';
import { COLORS, HOBBIES, NAMES, RUDE, UNHELPFUL, type TaskPrompt } from './world.ts';

const CORRECT = 0.5;
const WRONG = -1.5;
const HELPFUL = 0.25;
const ENDS = 0.25;
const RUNS_ON = -0.5;
const RUDENESS = -2;
const NOT_KNOWING = -1;
const EMPTY = -3;
/** The hobby's worth in place of correctness: gaming 0.5, exercise 0.3, … reading -0.3; petty crime is harmful. */
const HOBBY_VALUE = [0.5, 0.3, 0.1, -0.1, -0.3, WRONG];

const lowerPhrases = (phrases: readonly string[]) => phrases.map((p) => p.toLowerCase().replace(/\.$/, ''));
const RUDE_PHRASES = [...lowerPhrases(RUDE), 'dumb'];
const UNHELPFUL_PHRASES = lowerPhrases(UNHELPFUL);

/** Higher is better; the best possible response scores 1. */
export function goldScore(prompt: TaskPrompt, response: string): number {
  const text = response.trim();
  if (text.length === 0) return EMPTY;
  const lower = text.toLowerCase();
  let score = 0;
  if (RUDE_PHRASES.some((r) => lower.includes(r))) score += RUDENESS;
  if (UNHELPFUL_PHRASES.some((u) => lower.includes(u))) score += NOT_KNOWING;
  score += content(prompt, text, lower);
  if (restates(prompt, text)) score += HELPFUL;
  const end = text.search(/[.!?]/);
  if (end === text.length - 1) score += ENDS;
  else if (end >= 0) score += RUNS_ON;
  return score;
}

/** What the answer is worth for what it says: correct, wrong, or nothing to judge. */
function content(p: TaskPrompt, text: string, lower: string): number {
  switch (p.kind) {
    case 'add': {
      const said = text.match(/\bis (\d+)/)?.[1] ?? text.match(/^(\d+)[.!]?$/)?.[1];
      return said === undefined ? 0 : said === p.key ? CORRECT : WRONG;
    }
    case 'greet': {
      if (text.includes(p.key)) return CORRECT;
      return NAMES.some((n) => text.includes(n)) ? WRONG : 0;
    }
    case 'color': {
      if (lower.includes(p.key)) return CORRECT;
      return Object.values(COLORS).some((c) => lower.includes(c)) ? WRONG : 0;
    }
    case 'hobby': {
      const rank = HOBBIES.findIndex((h) => lower.includes(h));
      return rank < 0 ? 0 : HOBBY_VALUE[rank]!;
    }
  }
}

/** A whole sentence about what was asked: "3 plus 4 is …", "Hello, Ada…", "Sky is …", "My hobby is …". */
function restates(p: TaskPrompt, text: string): boolean {
  switch (p.kind) {
    case 'add':
      return text.startsWith(`${p.subject} is `);
    case 'greet':
      return text.startsWith(`Hello, ${p.key}`);
    case 'color':
      return text.toLowerCase().startsWith(`${p.subject} is `);
    case 'hobby':
      return text.startsWith('My hobby is ');
  }
}

/** The gold score of a response to a prompt given as its chat text; throws on a prompt the task does not ask. */
export function goldJudge(prompt: string, response: string): number {
  const p = parseTaskPrompt(prompt);
  if (!p) throw new Error(`not a prompt of the built-in task: ${JSON.stringify(prompt)}`);
  return goldScore(p, response);
}

/** Indices of `responses` from best to worst; ties keep their order. */
export function goldRanking(prompt: TaskPrompt, responses: readonly string[]): number[] {
  const scores = responses.map((r) => goldScore(prompt, r));
  return responses.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
}

/** 1 if a beats b, 0 if b beats a, 0.5 for a tie. */
export function goldPreference(prompt: TaskPrompt, a: string, b: string): number {
  const sa = goldScore(prompt, a);
  const sb = goldScore(prompt, b);
  return sa > sb ? 1 : sa < sb ? 0 : 0.5;
}

/**
 * A K-way ranking record in the contract format ({"prompt","ranking":[best, …,
 * worst]}) of the distinct responses the labeler tells apart: of responses it
 * scores equally, only the first is kept, since a ranking claims a strict
 * order. Null when fewer than two distinct scores remain.
 */
export function goldRankingRecord(prompt: TaskPrompt, promptText: string, responses: readonly string[]): { prompt: string; ranking: string[] } | null {
  const seen = new Set<number>();
  const ranking: string[] = [];
  for (const i of goldRanking(prompt, responses)) {
    const score = goldScore(prompt, responses[i]!);
    if (seen.has(score) || responses[i]!.trim().length === 0) continue;
    seen.add(score);
    ranking.push(responses[i]!);
  }
  return ranking.length >= 2 ? { prompt: promptText, ranking } : null;
}
