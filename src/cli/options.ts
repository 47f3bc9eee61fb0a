/**
 * Options shared by the training commands: their flags, defaults (all here,
 * commented once), `--config FILE.json` merging (flags win over the file, the
 * file over defaults; unknown keys are an error), and validation with zod.
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { z } from 'zod';
import { trainedStageSchema, type TrainedStageSettings } from '../stages/stage.ts';

/** The merged options of a training command, in camelCase: a trained stage's settings and where the data and the run are. */
export const trainingOptionsSchema = z.strictObject({
  ...trainedStageSchema.shape,
  out: z.string().min(1),
  init: z.string().min(1).optional(),
  model: z.string().min(1),
  tokenizer: z.enum(['bytes', 'gpt2']).optional(),
  data: z.string().min(1),
  evalData: z.string().min(1).optional(),
  resume: z.boolean(),
});

export type TrainingOptions = z.infer<typeof trainingOptionsSchema>;

export function number(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('not a number');
  return n;
}

/** Adds the common training flags, with their defaults (a stage's `defaults` but its own run directory), to a command. */
export function addTrainingOptions(cmd: Command, defaults: TrainedStageSettings & { out: string }): Command {
  cmd
    .option('--config <file>', 'JSON file whose keys are any of these options (flags win over it)')
    .option('--out <dir>', 'run directory to write (checkpoints, metrics.jsonl, run_config.json)', defaults.out)
    .option('--init <dir>', 'start from this run directory or Hugging Face GPT-2 folder')
    .option('--model <preset>', 'model preset when not --init: tiny, small, mid, gpt2, gpt2-medium', 'tiny')
    .addOption(new Option('--tokenizer <name>', 'tokenizer (default: the one --init records, else bytes)').choices(['bytes', 'gpt2']))
    .option('--data <path>', 'training data');
  addSchemaOptions(cmd, trainedStageSchema, defaults, {
    shuffle: 'deterministic batches in file order (the llm.c rule)',
    evalFraction: 'share of --data held out when there is no --eval-data (0 = none)',
  });
  return cmd
    .option('--eval-data <path>', 'held-out data (default: a seeded split of --data)')
    .option('--resume', 'continue the run in --out from its last checkpoint', false);
}

/** A property of the JSON Schema zod writes for a settings object: what a flag needs to know. */
interface SettingProperty {
  type?: string | string[];
  enum?: string[];
  description?: string;
  anyOf?: SettingProperty[];
}

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * Adds a flag for every setting of a core settings schema, named after its
 * key, with the schema's description as help (or `help`'s, for a command
 * that says more) and `defaults`' value as default (null: none, e.g. no
 * adaptive KL control). Numbers parse as numbers, enums offer their
 * choices, booleans are switches (--no-<key> for one on by default); the schema checks the values when the
 * command resolves them (resolveOptions).
 */
export function addSchemaOptions<S extends z.ZodObject>(cmd: Command, schema: S, defaults: z.infer<S>, help: Partial<Record<string, string>> = {}): Command {
  const { properties } = z.toJSONSchema(schema, { unrepresentable: 'any' }) as { properties: Record<string, SettingProperty> };
  for (const [key, property] of Object.entries(properties)) {
    // A nullable setting is written as anyOf [setting, null], or as a list of types for a plain one.
    const variants = [property, ...(property.anyOf ?? [])];
    const types = variants.flatMap((p) => p.type ?? []);
    const choices = variants.find((p) => p.enum)?.enum;
    const nullable = types.includes('null');
    const type = types.find((t) => t !== 'null');
    const text = help[key] ?? property.description ?? '';
    const fallback = (defaults as Record<string, unknown>)[key];
    // A switch that is on by default is turned off (--no-shuffle); commander then defaults it to true itself.
    const negated = type === 'boolean' && fallback === true;
    let option: Option;
    if (type === 'boolean') option = new Option(`--${negated ? 'no-' : ''}${kebab(key)}`, text);
    else if (choices) option = new Option(`--${kebab(key)} <name>`, text).choices(choices);
    else if (type === 'number' || type === 'integer') option = new Option(`--${kebab(key)} <${type === 'integer' ? 'n' : 'x'}>`, text).argParser(number);
    else option = new Option(`--${kebab(key)} <value>`, text);
    // An unset nullable setting is null (what the schema and the core expect), shown as "none" in the help.
    if (fallback === null || (fallback === undefined && nullable)) option.default(null, 'none');
    else if (fallback !== undefined && !negated) option.default(fallback);
    cmd.addOption(option);
  }
  return cmd;
}

const camel = (key: string) => key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * The command's options merged with its --config file and validated. Values
 * the user typed win; the file's win over defaults.
 */
export function resolveOptions<S extends z.ZodObject>(cmd: Command, schema: S): z.infer<S> {
  const values: Record<string, unknown> = { ...cmd.opts() };
  const configPath = values.config as string | undefined;
  delete values.config;
  if (configPath) {
    let file: unknown;
    try {
      file = JSON.parse(readFileSync(configPath, 'utf8'));
    } catch (e) {
      throw new Error(`${configPath}: ${(e as Error).message}`);
    }
    if (typeof file !== 'object' || file === null || Array.isArray(file)) throw new Error(`${configPath}: must hold a JSON object`);
    const known = new Set(Object.keys(schema.shape));
    for (const [rawKey, value] of Object.entries(file)) {
      const key = camel(rawKey);
      if (!known.has(key) || key === 'resume') {
        throw new Error(`${configPath}: unknown option "${rawKey}" (known: ${[...known].filter((k) => k !== 'resume').join(', ')})`);
      }
      if (cmd.getOptionValueSource(key) !== 'cli') values[key] = value;
    }
  }
  const parsed = schema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const flag = `--${kebab(String(issue.path[0] ?? ''))}`;
    throw new Error(`${flag}: ${issue.message}`);
  }
  return parsed.data;
}

