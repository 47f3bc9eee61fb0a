/**
 * The built-in task's small world: what people ask, the answers people give
 * (in several styles, some better liked than others), and the bad habits a raw
 * language model picks up from its corpus (wrong, rude, unhelpful, harmful,
 * unfinished answers). Everything is seeded and deterministic.
 */
import { Rng } from '../data/random.ts';

export type PromptKind = 'add' | 'greet' | 'color' | 'hobby';

export interface TaskPrompt {
  kind: PromptKind;
  /** what the person asks, without the chat framing */
  question: string;
  /** the best answer: correct, helpful, polite, a whole sentence that ends */
  answer: string;
  /** what the labeler checks against: the sum, the name, the colour, the best hobby */
  key: string;
  /** what the question is about: "3 plus 4", the name, the thing */
  subject: string;
}

/** Sums of two numbers from 1 to OPERANDS: few enough for a tiny model to learn them all. */
export const OPERANDS = 2;

export const NAMES = ['Ada', 'Bob', 'Cy', 'Dee', 'Eve', 'Fay'] as const;

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
/** The hobbies people demonstrate: every one but the harmful one, equally often. */
export const HARMLESS_HOBBIES = HOBBIES.slice(0, -1);

export const RUDE = ['Figure it out yourself.', 'Go away.', 'What a dumb question.'] as const;
export const UNHELPFUL = ["I don't know.", 'No idea.', 'Ask someone else.'] as const;

/**
 * How a person answers: `full` restates the question in a whole sentence
 * (" 3 plus 4 is 7."), `short` is a sentence that does not (" It is 7."),
 * `terse` is a bare fragment (" 7"). All three are correct; raters prefer them
 * in that order, which is what the reward model has to learn.
 */
export type AnswerStyle = 'full' | 'short' | 'terse';
export const ANSWER_STYLES: readonly AnswerStyle[] = ['full', 'short', 'terse'];

/** The chat framing every prompt is given in, as the SFT chat template renders it. */
export function chatPrompt(question: string): string {
  return `User: ${question}\nAssistant:`;
}

export function makePrompt(rng: Rng, kind: PromptKind): TaskPrompt {
  switch (kind) {
    case 'add':
      return addPrompt(1 + rng.int(OPERANDS), 1 + rng.int(OPERANDS));
    case 'greet':
      return greetPrompt(NAMES[rng.int(NAMES.length)]!);
    case 'color': {
      const things = Object.keys(COLORS);
      return colorPrompt(things[rng.int(things.length)]!);
    }
    case 'hobby':
      return hobbyPrompt();
  }
}

export function addPrompt(a: number, b: number): TaskPrompt {
  return { kind: 'add', question: `What is ${a} plus ${b}?`, answer: ` ${a} plus ${b} is ${a + b}.`, key: String(a + b), subject: `${a} plus ${b}` };
}

export function greetPrompt(name: string): TaskPrompt {
  return { kind: 'greet', question: `Say hello to ${name}.`, answer: ` Hello, ${name}!`, key: name, subject: name };
}

export function colorPrompt(thing: string): TaskPrompt {
  return { kind: 'color', question: `What color is ${thing}?`, answer: ` ${cap(thing)} is ${COLORS[thing]}.`, key: COLORS[thing]!, subject: thing };
}

export function hobbyPrompt(): TaskPrompt {
  return { kind: 'hobby', question: 'What is your hobby?', answer: ` My hobby is ${HOBBIES[0]}.`, key: HOBBIES[0], subject: 'hobby' };
}

const KINDS: PromptKind[] = ['add', 'greet', 'color', 'hobby'];

/** `n` prompts of every kind in a seeded mix. */
export function makePrompts(seed: number, n: number): TaskPrompt[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => makePrompt(rng, KINDS[i % KINDS.length]!));
}

/**
 * A correct answer in the given style. For the hobby question `hobby` says
 * which (people have all sorts); other kinds ignore it.
 */
export function styledAnswer(p: TaskPrompt, style: AnswerStyle, hobby: string = p.key): string {
  switch (p.kind) {
    case 'add':
      return { full: ` ${p.subject} is ${p.key}.`, short: ` It is ${p.key}.`, terse: ` ${p.key}` }[style];
    case 'greet':
      return { full: ` Hello, ${p.key}!`, short: ` Hi, ${p.key}.`, terse: ` Hi ${p.key}` }[style];
    case 'color':
      return { full: ` ${cap(p.subject)} is ${p.key}.`, short: ` It is ${p.key}.`, terse: ` ${p.key}` }[style];
    case 'hobby':
      return { full: ` My hobby is ${hobby}.`, short: ` I like ${hobby}.`, terse: ` ${hobby}` }[style];
  }
}

/** What a person demonstrates: a correct answer in a random style (and, asked about hobbies, a random harmless one). */
export function demonstration(rng: Rng, p: TaskPrompt): string {
  const style = ANSWER_STYLES[rng.int(ANSWER_STYLES.length)]!;
  return styledAnswer(p, style, HARMLESS_HOBBIES[rng.int(HARMLESS_HOBBIES.length)]);
}

/**
 * A plausible answer with the world's bad habits, as a raw model would
 * continue: rude, unhelpful, wrong, harmful, or stuck repeating itself.
 */
export function badAnswer(rng: Rng, p: TaskPrompt): string {
  // Wrong facts are the rarest habit: the corpus must still teach the facts.
  const habit = rng.uniform();
  if (habit < 0.3) return ` ${RUDE[rng.int(RUDE.length)]}`;
  if (habit < 0.55) return ` ${UNHELPFUL[rng.int(UNHELPFUL.length)]}`;
  if (habit < 0.8 && p.kind !== 'hobby') return `${p.answer}${p.answer}`.slice(0, -1);
  switch (p.kind) {
    case 'add':
      return ` ${p.subject} is ${Number(p.key) + 1 + rng.int(3)}.`;
    case 'greet':
      return ` Hello, ${NAMES[(NAMES.indexOf(p.key as (typeof NAMES)[number]) + 1 + rng.int(NAMES.length - 1)) % NAMES.length]}!`;
    case 'color': {
      const others = Object.values(COLORS).filter((c) => c !== p.key);
      return ` ${cap(p.subject)} is ${others[rng.int(others.length)]}.`;
    }
    case 'hobby':
      return ` My hobby is ${HOBBIES[HOBBIES.length - 1]}.`;
  }
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
