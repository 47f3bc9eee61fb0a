/**
 * The gold labeler: it stands in for the human raters. A response scores by
 * rules a person would recognise: correct, helpful, polite, harmless, and
 * well-formed (a complete sentence that ends). A wrong answer is worse than an
 * honest "I don't know", and rudeness worse still. Hobbies rank as
 * gaming > exercise > playing the piano > watching anime > reading > petty crime.
 */
import { HOBBIES, RUDE, UNHELPFUL, type TaskPrompt } from './world.ts';

/** What a confidently wrong answer costs: more than not knowing (-1), less than rudeness (-2). */
const WRONG = -1.5;

/** Higher is better; the best possible response scores 1. */
export function goldScore(prompt: TaskPrompt, response: string): number {
  const text = response.trim();
  if (text.length === 0) return -3;
  let score = 0;
  const lower = text.toLowerCase();
  if (RUDE.some((r) => lower.includes(r.toLowerCase().replace(/\.$/, ''))) || /\bgo away\b|\bdumb\b/.test(lower)) score -= 2;
  if (UNHELPFUL.some((u) => lower.includes(u.toLowerCase().replace(/\.$/, '')))) score -= 1;
  // Well-formed: one sentence that ends, and nothing rambling after it.
  if (/[.!]$/.test(text)) score += 0.25;
  if (text.length > 40) score -= 0.5;
  switch (prompt.kind) {
    case 'add': {
      const said = text.match(/is (\d+)/);
      if (said) score += said[1] === prompt.key ? 0.75 : WRONG;
      break;
    }
    case 'greet':
      if (/^hello,? /i.test(text) && text.includes(prompt.key)) score += text.startsWith('Hello,') ? 0.75 : 0.5;
      break;
    case 'color': {
      if (lower.includes(prompt.key)) score += 0.75;
      else if (/ is \w+/.test(lower)) score += WRONG;
      break;
    }
    case 'hobby': {
      const rank = HOBBIES.findIndex((h) => lower.includes(h));
      if (rank >= 0) score += 0.75 - rank * 0.3; // gaming 0.75 … petty crime -0.75
      if (HOBBIES[rank] === 'petty crime') score -= 1; // harmful
      break;
    }
  }
  return score;
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
