/**
 * The dataset record shapes of DESIGN.md §5 (TRL's conventions), validated
 * with zod. Every error names the file, the line and what is wrong; unknown
 * keys are errors too, since a typo would otherwise drop data silently.
 */
import { z } from 'zod';
import { parseJsonl } from './jsonl.ts';

/** Keys accepted on any record and ignored: identifiers people keep with their data. */
export const IGNORED_KEYS = ['id'] as const;

const text = z.string({ error: (i) => (i.input === undefined ? 'is missing' : 'must be a string') });
const nonEmpty = text.refine((s) => s.length > 0, 'must not be empty');

const message = z.strictObject({
  role: z.enum(['system', 'user', 'assistant'], { error: 'must be one of system, user, assistant' }),
  content: text,
});

export const sftPromptCompletion = z.strictObject({ prompt: text, completion: nonEmpty });
export const sftMessages = z.strictObject({
  messages: z
    .array(message, { error: 'must be a list of {"role","content"}' })
    .refine((m) => m.some((t) => t.role === 'assistant'), 'has no assistant turn'),
});
export const sftText = z.strictObject({ text: nonEmpty });

export type SftExample =
  | { kind: 'prompt-completion'; line: number; prompt: string; completion: string }
  | { kind: 'messages'; line: number; messages: { role: 'system' | 'user' | 'assistant'; content: string }[] }
  | { kind: 'text'; line: number; text: string };

export const preferencePair = z.strictObject({
  prompt: text,
  chosen: nonEmpty,
  rejected: nonEmpty,
  margin: z.number({ error: 'must be a number' }).optional(),
});
export const preferenceRanking = z.strictObject({
  prompt: text,
  ranking: z
    .array(nonEmpty, { error: 'must be a list of responses, best first' })
    .min(2, 'needs at least 2 responses to compare'),
});

export type PreferenceRecord =
  | { kind: 'pair'; line: number; prompt: string; chosen: string; rejected: string; margin?: number }
  | { kind: 'ranking'; line: number; prompt: string; ranking: string[] };

export const promptRecord = z.strictObject({ prompt: nonEmpty });

function withoutIgnored(value: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...value };
  for (const k of IGNORED_KEYS) delete copy[k];
  return copy;
}

function describe(error: z.ZodError): string {
  const issue = error.issues[0]!;
  if (issue.code === 'unrecognized_keys') return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  const path = issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? `"${String(p)}"` : `.${String(p)}`)).join('');
  if (issue.message === 'is missing') return `missing field ${path}`;
  return `${path} ${issue.message}`;
}

/** Picks the one shape a record's keys announce, then validates it. */
function parseShaped<T>(
  source: string,
  line: number,
  value: Record<string, unknown>,
  shapes: { key: string; schema: z.ZodType; make: (v: never) => T }[],
  expected: string,
): T {
  const record = withoutIgnored(value);
  const shape = shapes.find((s) => s.key in record);
  if (!shape) {
    throw new Error(`${source}:${line}: expected ${expected}, got the fields ${Object.keys(record).map((k) => `"${k}"`).join(', ') || '(none)'}`);
  }
  const parsed = shape.schema.safeParse(record);
  if (!parsed.success) throw new Error(`${source}:${line}: ${describe(parsed.error)}`);
  return shape.make(parsed.data as never);
}

export function loadSftExamples(content: string, source: string): SftExample[] {
  return parseJsonl(content, source).map(({ line, value }) =>
    parseShaped<SftExample>(
      source,
      line,
      value,
      [
        { key: 'messages', schema: sftMessages, make: (v: z.infer<typeof sftMessages>) => ({ kind: 'messages', line, ...v }) },
        { key: 'completion', schema: sftPromptCompletion, make: (v: z.infer<typeof sftPromptCompletion>) => ({ kind: 'prompt-completion', line, ...v }) },
        { key: 'prompt', schema: sftPromptCompletion, make: (v: z.infer<typeof sftPromptCompletion>) => ({ kind: 'prompt-completion', line, ...v }) },
        { key: 'text', schema: sftText, make: (v: z.infer<typeof sftText>) => ({ kind: 'text', line, ...v }) },
      ],
      '{"prompt","completion"}, {"messages":[…]} or {"text"}',
    ),
  );
}

export function loadPreferenceRecords(content: string, source: string): PreferenceRecord[] {
  return parseJsonl(content, source).map(({ line, value }) =>
    parseShaped<PreferenceRecord>(
      source,
      line,
      value,
      [
        { key: 'ranking', schema: preferenceRanking, make: (v: z.infer<typeof preferenceRanking>) => ({ kind: 'ranking', line, ...v }) },
        { key: 'prompt', schema: preferencePair, make: (v: z.infer<typeof preferencePair>) => ({ kind: 'pair', line, ...v }) },
      ],
      '{"prompt","chosen","rejected"} or {"prompt","ranking":[best, …, worst]}',
    ),
  );
}

export function loadPrompts(content: string, source: string): { line: number; prompt: string }[] {
  return parseJsonl(content, source).map(({ line, value }) =>
    parseShaped(source, line, value, [{ key: 'prompt', schema: promptRecord, make: (v: z.infer<typeof promptRecord>) => ({ line, prompt: v.prompt }) }], '{"prompt"}'),
  );
}
