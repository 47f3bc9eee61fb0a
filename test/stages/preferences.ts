/** A small preference set with a learnable rule, for reward-model tests. */
import { Rng } from '../../src/reference/random.ts';

const GOOD = ['kind', 'great', 'nice'];
const BAD = ['rude', 'awful', 'mean'];
const NEUTRAL = ['the', 'cat', 'sat', 'on', 'a', 'mat'];

/** Responses of four words; a response is better the more good and the fewer bad words it has. */
export function preferenceJsonl(groups: number, seed: number, prompt = 'Say something: '): string {
  const rng = new Rng(seed);
  const pick = (words: string[]) => words[rng.int(words.length)]!;
  const response = () => {
    const words = Array.from({ length: 4 }, () => pick(rng.uniform() < 0.5 ? NEUTRAL : rng.uniform() < 0.5 ? GOOD : BAD));
    return { text: words.join(' '), score: words.filter((w) => GOOD.includes(w)).length - words.filter((w) => BAD.includes(w)).length };
  };
  const lines: string[] = [];
  while (lines.length < groups) {
    const k = lines.length % 2 === 0 ? 2 : 3;
    const rs = Array.from({ length: k }, response).sort((a, b) => b.score - a.score);
    if (rs.some((r, i) => i > 0 && r.score === rs[i - 1]!.score)) continue; // no ties
    lines.push(
      JSON.stringify(k === 2 ? { prompt, chosen: rs[0]!.text, rejected: rs[1]!.text } : { prompt, ranking: rs.map((r) => r.text) }),
    );
  }
  return `${lines.join('\n')}\n`;
}
