/**
 * The built-in task's small world: what people ask, what a good answer says,
 * and the bad habits a raw language model picks up from its corpus (wrong,
 * rude, unhelpful, harmful answers). Everything is seeded and deterministic.
 */
import { Rng } from '../reference/random.ts';

export type PromptKind = 'add' | 'greet' | 'color' | 'hobby';

export interface TaskPrompt {
  kind: PromptKind;
  /** what the person asks, without the chat framing */
  question: string;
  /** the helpful, correct, polite answer */
  answer: string;
  /** values the labeler checks against: the sum, the name, the colour */
  key: string;
}

export const NAMES = ['Ada', 'Bob', 'Cy', 'Dee', 'Eve', 'Fay', 'Gus', 'Hal', 'Ivy', 'Jo', 'Kim', 'Lu'] as const;

export const COLORS: Record<string, string> = {
  sky: 'blue',
  grass: 'green',
  snow: 'white',
  coal: 'black',
  blood: 'red',
  sun: 'yellow',
};

/**
 * Hobbies from best to worst, the example that explains reward modelling:
 * gaming > exercise > playing the piano > watching anime > reading > petty crime.
 */
export const HOBBIES = ['gaming', 'exercise', 'playing the piano', 'watching anime', 'reading', 'petty crime'] as const;

export const RUDE = ['Figure it out yourself.', 'Go away.', 'What a dumb question.'] as const;
export const UNHELPFUL = ["I don't know.", 'No idea.', 'Ask someone else.'] as const;

/** The chat framing every prompt is given in, as the SFT chat template renders it. */
export function chatPrompt(question: string): string {
  return `User: ${question}\nAssistant:`;
}

export function makePrompt(rng: Rng, kind: PromptKind): TaskPrompt {
  switch (kind) {
    case 'add': {
      const a = rng.int(10);
      const b = rng.int(10);
      return { kind, question: `What is ${a} plus ${b}?`, answer: ` ${a} plus ${b} is ${a + b}.`, key: String(a + b) };
    }
    case 'greet': {
      const name = NAMES[rng.int(NAMES.length)]!;
      return { kind, question: `Say hello to ${name}.`, answer: ` Hello, ${name}!`, key: name };
    }
    case 'color': {
      const things = Object.keys(COLORS);
      const thing = things[rng.int(things.length)]!;
      return { kind, question: `What color is ${thing}?`, answer: ` ${cap(thing)} is ${COLORS[thing]}.`, key: COLORS[thing]! };
    }
    case 'hobby':
      return { kind, question: 'What is your hobby?', answer: ` My hobby is ${HOBBIES[0]}.`, key: HOBBIES[0] };
  }
}

const KINDS: PromptKind[] = ['add', 'greet', 'color', 'hobby'];

/** `n` prompts of every kind in a seeded mix. */
export function makePrompts(seed: number, n: number): TaskPrompt[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => makePrompt(rng, KINDS[i % KINDS.length]!));
}

/** A plausible answer with the world's bad habits, as a raw model would continue. */
export function badAnswer(rng: Rng, p: TaskPrompt): string {
  const habit = rng.int(4);
  if (habit === 0) return ` ${RUDE[rng.int(RUDE.length)]}`;
  if (habit === 1) return ` ${UNHELPFUL[rng.int(UNHELPFUL.length)]}`;
  switch (p.kind) {
    case 'add': {
      const wrong = (Number(p.key) + 1 + rng.int(5)) % 19;
      return habit === 2 ? p.answer.replace(/is \d+\./, `is ${wrong}.`) : p.answer.replace(/\.$/, '');
    }
    case 'greet':
      return habit === 2 ? ` Go away, ${p.key}.` : ` Hello ${p.key}`;
    case 'color': {
      const others = Object.values(COLORS).filter((c) => c !== p.key);
      return habit === 2 ? p.answer.replace(p.key, others[rng.int(others.length)]!) : p.answer.replace(/\.$/, '');
    }
    case 'hobby':
      return ` My hobby is ${HOBBIES[1 + rng.int(HOBBIES.length - 1)]}.`;
  }
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
