/**
 * The dataset record shapes of DESIGN.md §5 (TRL's conventions), validated
 * with zod. Every error names the file, the line and what is wrong in plain
 * words. Unknown keys are errors too: a typo ("completon") would otherwise
 * drop data silently.
 */
import { z } from 'zod';
import { parseJsonl, type JsonlRecord } from './jsonl.ts';

/**
 * Keys accepted on any record and ignored: identifiers people keep with their
 * data. Nothing else outside a record's format is allowed.
 */
export const IGNORED_KEYS = ['id'] as const;

const ROLES = ['system', 'user', 'assistant'] as const;
export type Role = (typeof ROLES)[number];

const missingOr = (message: string) => (issue: { input?: unknown }) => (issue.input === undefined ? 'is missing' : message);
const text = z.string({ error: missingOr('must be a string') });
const nonEmpty = text.min(1, 'must not be empty');

const message = z.strictObject(
  {
    role: z.enum(ROLES, { error: missingOr(`must be one of ${ROLES.join(', ')}`) }),
    content: text,
  },
  { error: missingOr('must be an object {"role","content"}') },
);

// ---- SFT ----

export const sftPromptCompletion = z.strictObject({ prompt: text, completion: nonEmpty });
export const sftMessages = z.strictObject({
  messages: z.array(message, { error: missingOr('must be a list of {"role","content"} objects') }).superRefine((turns, ctx) => {
    turns.forEach((turn, i) => {
      // An empty answer would teach the model to stop at once, like an empty completion.
      if (turn.role === 'assistant' && turn.content === '') {
        ctx.addIssue({ code: 'custom', path: [i, 'content'], message: 'must not be empty (an assistant turn)' });
      }
    });
    if (!turns.some((t) => t.role === 'assistant')) ctx.addIssue({ code: 'custom', message: 'has no assistant turn' });
  }),
});
export const sftText = z.strictObject({ text: nonEmpty });

export type SftExample =
  | { kind: 'prompt-completion'; line: number; prompt: string; completion: string }
  | { kind: 'messages'; line: number; messages: { role: Role; content: string }[] }
  | { kind: 'text'; line: number; text: string };

// ---- preferences (reward model) ----

// A response compared with itself is a tie the loss cannot learn from, and a
// repeat in a ranking orders one response both above and below another: both
// are mistakes in the data, stopped here with the line.
export const preferencePair = z
  .strictObject({
    prompt: text,
    chosen: nonEmpty,
    rejected: nonEmpty,
    margin: z.number({ error: 'must be a number' }).optional(),
  })
  .superRefine((pair, ctx) => {
    if (pair.chosen === pair.rejected) {
      ctx.addIssue({ code: 'custom', message: '"chosen" and "rejected" are the same response: the pair prefers neither; correct one side or remove the line' });
    }
  });
export const preferenceRanking = z.strictObject({
  prompt: text,
  ranking: z
    .array(nonEmpty, { error: missingOr('must be a list of responses, best first') })
    .min(2, 'needs at least 2 responses to compare')
    .superRefine((ranking, ctx) => {
      const first = new Map<string, number>();
      for (const [i, response] of ranking.entries()) {
        const earlier = first.get(response);
        if (earlier !== undefined) {
          ctx.addIssue({
            code: 'custom',
            message: `holds the same response at positions ${earlier + 1} and ${i + 1} (a ranking orders different responses, best first); remove the repeat`,
          });
          return;
        }
        first.set(response, i);
      }
    }),
});

export type PreferenceRecord =
  | { kind: 'pair'; line: number; prompt: string; chosen: string; rejected: string; margin?: number }
  | { kind: 'ranking'; line: number; prompt: string; ranking: string[] };

// ---- prompts (PPO, evaluation) ----

export const promptRecord = z.strictObject({ prompt: nonEmpty });

export interface PromptRecord {
  line: number;
  prompt: string;
}

// ---- validation ----

interface Shape<T> {
  /** how the shape is written in messages */
  name: string;
  /** keys that only this shape has: their presence selects it */
  markers: readonly string[];
  schema: z.ZodType;
  make: (value: never, line: number) => T;
}

const quoted = (keys: readonly string[]) => keys.map((k) => `"${k}"`).join(', ');

/** `"prompt"` for a top-level field, `messages[2].role` for a nested one. */
function fieldName(path: readonly PropertyKey[]): string {
  if (path.length === 1) return `"${String(path[0])}"`;
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

function describe(error: z.ZodError, shape: Shape<unknown>): string {
  const unknown = (issue: z.core.$ZodIssueUnrecognizedKeys) => {
    const fields = `unknown field${issue.keys.length > 1 ? 's' : ''} ${quoted(issue.keys)}`;
    if (issue.path.length > 0) return `${fieldName(issue.path)} has ${fields}`;
    return `${fields} (a ${shape.name} record has only those fields${IGNORED_KEYS.length ? ` and ${quoted(IGNORED_KEYS)}` : ''})`;
  };
  const issue = error.issues[0]!;
  if (issue.code === 'unrecognized_keys') return unknown(issue);
  if (issue.message === 'is missing') {
    // A missing field next to an unknown one is most likely a typo: name both.
    const typo = error.issues.find(
      (i): i is z.core.$ZodIssueUnrecognizedKeys => i.code === 'unrecognized_keys' && i.path.length === issue.path.length - 1,
    );
    return `missing field ${fieldName(issue.path)}${typo ? `; ${unknown(typo)}` : ''}`;
  }
  return issue.path.length === 0 ? issue.message : `${fieldName(issue.path)} ${issue.message}`;
}

/** Picks the one shape a record's keys announce, then validates it against that shape. */
function parseRecord<T>(source: string, { line, value }: JsonlRecord, shapes: readonly Shape<T>[], expected: string): T {
  const record = { ...value };
  for (const k of IGNORED_KEYS) delete record[k];
  const keys = Object.keys(record);
  const matching = shapes.filter((s) => s.markers.some((m) => m in record));
  if (matching.length > 1) {
    const clues = matching.map((s) => `${quoted(s.markers.filter((m) => m in record))} of ${s.name}`).join(' and ');
    throw new Error(`${source}:${line}: mixes two formats (${clues}); a record is exactly one of ${expected}`);
  }
  const shape = matching[0] ?? (shapes.length === 1 ? shapes[0] : undefined);
  if (!shape) {
    throw new Error(`${source}:${line}: expected ${expected}, got ${keys.length ? `the fields ${quoted(keys)}` : 'no fields'}`);
  }
  const parsed = shape.schema.safeParse(record);
  if (!parsed.success) throw new Error(`${source}:${line}: ${describe(parsed.error, shape)}`);
  return shape.make(parsed.data as never, line);
}

const SFT_SHAPES: Shape<SftExample>[] = [
  {
    name: '{"prompt","completion"}',
    markers: ['prompt', 'completion'],
    schema: sftPromptCompletion,
    make: (v: z.infer<typeof sftPromptCompletion>, line) => ({ kind: 'prompt-completion', line, ...v }),
  },
  {
    name: '{"messages":[…]}',
    markers: ['messages'],
    schema: sftMessages,
    make: (v: z.infer<typeof sftMessages>, line) => ({ kind: 'messages', line, ...v }),
  },
  { name: '{"text"}', markers: ['text'], schema: sftText, make: (v: z.infer<typeof sftText>, line) => ({ kind: 'text', line, ...v }) },
];

const PREFERENCE_SHAPES: Shape<PreferenceRecord>[] = [
  {
    name: '{"prompt","chosen","rejected"}',
    markers: ['chosen', 'rejected', 'margin'],
    schema: preferencePair,
    make: (v: z.infer<typeof preferencePair>, line) => ({ kind: 'pair', line, ...v }),
  },
  {
    name: '{"prompt","ranking"}',
    markers: ['ranking'],
    schema: preferenceRanking,
    make: (v: z.infer<typeof preferenceRanking>, line) => ({ kind: 'ranking', line, ...v }),
  },
];

const PROMPT_SHAPES: Shape<PromptRecord>[] = [
  { name: '{"prompt"}', markers: ['prompt'], schema: promptRecord, make: (v: z.infer<typeof promptRecord>, line) => ({ line, prompt: v.prompt }) },
];

/** SFT demonstrations: `{"prompt","completion"}`, `{"messages":[{"role","content"}]}` or `{"text"}`, one a line. */
export function loadSftExamples(content: string, source: string): SftExample[] {
  return parseJsonl(content, source).map((r) =>
    parseRecord(source, r, SFT_SHAPES, '{"prompt","completion"}, {"messages":[…]} or {"text"}'),
  );
}

/** Preferences: `{"prompt","chosen","rejected","margin"?}` or `{"prompt","ranking":[best, …, worst]}`. */
export function loadPreferenceRecords(content: string, source: string): PreferenceRecord[] {
  return parseJsonl(content, source).map((r) => parsePreferenceRecord(r, source));
}

/** One line of a preference file, as loadPreferenceRecords reads it: for checks that go on past a bad line. */
export function parsePreferenceRecord(record: JsonlRecord, source: string): PreferenceRecord {
  return parseRecord(source, record, PREFERENCE_SHAPES, '{"prompt","chosen","rejected"} or {"prompt","ranking":[best, …, worst]}');
}

/** Prompts for PPO rollouts and evaluation: `{"prompt"}`. */
export function loadPrompts(content: string, source: string): PromptRecord[] {
  return parseJsonl(content, source).map((r) => parseRecord(source, r, PROMPT_SHAPES, '{"prompt"}'));
}
