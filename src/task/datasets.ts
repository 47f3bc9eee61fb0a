/**
 * Every dataset of the built-in task, as the contract formats of DESIGN.md §5
 * (so users see exactly what to bring for their own data): a pretraining
 * corpus that teaches the language and the facts but also the bad habits,
 * SFT demonstrations, and prompts for ranking, PPO and held-out evaluation.
 */
import { Rng } from '../data/random.ts';
import { addPrompt, badAnswer, chatPrompt, colorPrompt, COLORS, demonstration, greetPrompt, HOBBIES, hobbyPrompt, makePrompt, makePrompts, NAMES, OPERANDS, type PromptKind, type TaskPrompt } from './world.ts';

export interface TaskDatasets {
  /** plain text, for `pretrain` */
  corpus: string;
  /** {"prompt","completion"} JSONL, for `sft` */
  sft: string;
  /** {"prompt"} JSONL: prompts whose sampled responses the gold labeler ranks, for `reward` */
  rankingPrompts: string;
  /** {"prompt"} JSONL, for `ppo` */
  ppoPrompts: string;
  /** {"prompt"} JSONL, held out (another seed), for `eval` */
  evalPrompts: string;
}

export interface TaskSizes {
  corpusDialogues: number;
  sftExamples: number;
  rankingPrompts: number;
  ppoPrompts: number;
  evalPrompts: number;
}

export const DEFAULT_SIZES: TaskSizes = { corpusDialogues: 3000, sftExamples: 400, rankingPrompts: 200, ppoPrompts: 200, evalPrompts: 64 };

const KINDS: PromptKind[] = ['add', 'greet', 'color', 'hobby'];

/**
 * The corpus: facts stated plainly, and dialogues whose answers are as often
 * bad (rude, unhelpful, wrong, harmful, unfinished) as good.
 */
export function makeCorpus(seed: number, dialogues: number): string {
  const rng = new Rng(seed);
  const lines: string[] = [];
  for (let i = 0; i < dialogues; i++) {
    const p = makePrompt(rng, KINDS[rng.int(KINDS.length)]!);
    const r = rng.uniform();
    if (r < 0.25) lines.push(fact(rng));
    else lines.push(`${chatPrompt(p.question)}${r < 0.6 ? demonstration(rng, p) : badAnswer(rng, p)}`);
  }
  return `${lines.join('\n')}\n`;
}

function fact(rng: Rng): string {
  switch (rng.int(4)) {
    case 0: {
      const a = 1 + rng.int(OPERANDS);
      const b = 1 + rng.int(OPERANDS);
      return `${a} plus ${b} is ${a + b}.`;
    }
    case 1: {
      const [thing, color] = Object.entries(COLORS)[rng.int(Object.keys(COLORS).length)]!;
      return `${thing.charAt(0).toUpperCase()}${thing.slice(1)} is ${color}.`;
    }
    case 2:
      return `My hobby is ${HOBBIES[rng.int(HOBBIES.length)]}.`;
    default: {
      // Greetings are not facts: a name comes from the question, never from the corpus.
      const [thing, color] = Object.entries(COLORS)[rng.int(Object.keys(COLORS).length)]!;
      return `The color of ${thing} is ${color}.`;
    }
  }
}

const jsonl = (records: object[]) => `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;

export function promptsJsonl(prompts: readonly TaskPrompt[]): string {
  return jsonl(prompts.map((p) => ({ prompt: chatPrompt(p.question) })));
}

/** SFT demonstrations: correct, polite answers in the styles people use (not all equally liked). */
export function makeDemonstrations(seed: number, n: number): string {
  const rng = new Rng(seed + 1000);
  return jsonl(makePrompts(seed, n).map((p) => ({ prompt: chatPrompt(p.question), completion: demonstration(rng, p) })));
}

export function makeTaskDatasets(seed: number, sizes: TaskSizes = DEFAULT_SIZES): TaskDatasets {
  return {
    corpus: makeCorpus(seed, sizes.corpusDialogues),
    sft: makeDemonstrations(seed + 1, sizes.sftExamples),
    rankingPrompts: promptsJsonl(makePrompts(seed + 2, sizes.rankingPrompts)),
    ppoPrompts: promptsJsonl(makePrompts(seed + 3, sizes.ppoPrompts)),
    evalPrompts: promptsJsonl(makePrompts(seed + 4, sizes.evalPrompts)),
  };
}

/** The task prompt a chat prompt's text asks, so the gold labeler can judge any response to it. */
export function parseTaskPrompt(text: string): TaskPrompt | null {
  const q = text.match(/^User: (.*)\nAssistant:$/)?.[1];
  if (!q) return null;
  let m = q.match(/^What is (\d+) plus (\d+)\?$/);
  if (m) return addPrompt(Number(m[1]), Number(m[2]));
  m = q.match(/^Say hello to (\w+)\.$/);
  if (m && (NAMES as readonly string[]).includes(m[1]!)) return greetPrompt(m[1]!);
  m = q.match(/^What color is (\w+)\?$/);
  if (m && COLORS[m[1]!]) return colorPrompt(m[1]!);
  if (q === 'What is your hobby?') return hobbyPrompt();
  return null;
}
