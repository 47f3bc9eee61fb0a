/**
 * What each stage of the page can be told, the presets, and the checking of
 * an edited config (unknown keys and wrong types are errors that say which).
 */
import { z } from 'zod';
import { PIPELINE_PRESETS, PPO_DEFAULTS, PRESETS, ppoSettingsSchema, preset, rewardStage, trainedStageSchema, type PipelineSettings } from '../../src/index.ts';

export const STAGES = ['pretrain', 'sft', 'reward', 'ppo'] as const;
export type StageName = (typeof STAGES)[number];

export const STAGE_TITLES: Record<StageName, string> = {
  pretrain: 'Pretraining',
  sft: 'Supervised fine-tuning',
  reward: 'Reward model',
  ppo: 'PPO',
};

const positiveInt = z.number().int().positive();
/** The training settings the page offers, as the core's stages declare them; the others keep their defaults (TRAINED_STAGE_DEFAULTS). */
const training = trainedStageSchema.pick({ steps: true, lr: true, warmup: true, seed: true, batchSize: true, seqLen: true, evalEvery: true, lrSchedule: true }).shape;

/** Shared by every stage: how long, how fast, and how often to look. */
const common = {
  steps: training.steps,
  lr: training.lr,
  warmup: training.warmup,
  schedule: training.lrSchedule,
  seed: training.seed,
  /** time every dispatch of one step in this many (the Shader timings tab) */
  profileEvery: positiveInt,
};

const languageModelSchema = z.strictObject({
  ...common,
  /** the model preset a fresh run starts from (when there is no current policy) */
  model: z.enum(Object.keys(PRESETS) as [string, ...string[]]),
  /** context length of a fresh model */
  contextLength: positiveInt,
  batchSize: training.batchSize,
  seqLen: training.seqLen,
  evalEvery: training.evalEvery,
  /** sample responses (and save the run in the browser) every this many steps */
  sampleEvery: positiveInt,
});

const rewardSchema = z.strictObject({
  ...common,
  /** responses per batch (a ranking of K takes K) */
  batchSize: training.batchSize,
  /** share of the ranked prompts held out for eval_accuracy (the page always holds some out) */
  evalFraction: rewardStage.schema.shape.evalFraction.gt(0),
  evalEvery: training.evalEvery,
});

/** The PPO settings the page offers, as the core declares them; the others keep PPO_DEFAULTS. */
const ppoSchema = ppoSettingsSchema
  .pick({ batchSize: true, responseLength: true, temperature: true, klCoef: true, targetKl: true, klHorizon: true, ppoEpochs: true, miniBatches: true, missingEosPenalty: true })
  .extend({ ...common, sampleEvery: positiveInt })
  .strict();

/** Every stage's settings: what an edited config is checked against. */
const STAGE_SCHEMAS = { pretrain: languageModelSchema, sft: languageModelSchema, reward: rewardSchema, ppo: ppoSchema };

export type LanguageModelSettings = z.infer<typeof languageModelSchema>;
export type RewardSettings = z.infer<typeof rewardSchema>;
export type PpoStageSettings = z.infer<typeof ppoSchema>;

export interface StageSettings {
  pretrain: LanguageModelSettings;
  sft: LanguageModelSettings;
  reward: RewardSettings;
  ppo: PpoStageSettings;
}

export type PresetName = 'quick' | 'cpu' | 'gpu';
export const PRESET_TITLES: Record<PresetName, string> = {
  quick: 'quick — tiny model, seconds',
  cpu: 'cpu — the pipeline on a CPU adapter, minutes',
  gpu: 'gpu — a larger model for a real GPU',
};

const lm = (o: Partial<LanguageModelSettings>): LanguageModelSettings => ({
  model: 'tiny',
  contextLength: 96,
  steps: 40,
  batchSize: 8,
  seqLen: 64,
  lr: 3e-3,
  warmup: 2,
  schedule: 'cosine',
  evalEvery: 10,
  sampleEvery: 10,
  profileEvery: 1,
  seed: 1,
  ...o,
});

const reward = (o: Partial<RewardSettings>): RewardSettings => ({
  steps: 40,
  batchSize: 8,
  lr: 1e-3,
  warmup: 2,
  schedule: 'cosine',
  evalFraction: 0.2,
  evalEvery: 10,
  profileEvery: 1,
  seed: 1,
  ...o,
});

const ppo = (o: Partial<PpoStageSettings>): PpoStageSettings => ({
  steps: 10,
  batchSize: 8,
  responseLength: 24,
  temperature: 1,
  klCoef: 0.05,
  targetKl: null,
  klHorizon: PPO_DEFAULTS.klHorizon,
  ppoEpochs: 2,
  miniBatches: 2,
  missingEosPenalty: 1,
  lr: 3e-4,
  warmup: 0,
  schedule: 'constant',
  sampleEvery: 2,
  profileEvery: 1,
  seed: 1,
  ...o,
});

/** How often the page looks at each stage of a pipeline preset: evaluations, samples, shader timings. */
interface Cadence {
  pretrain: Pick<LanguageModelSettings, 'evalEvery' | 'sampleEvery' | 'profileEvery'>;
  sft: Pick<LanguageModelSettings, 'evalEvery' | 'sampleEvery' | 'profileEvery'>;
  reward: Pick<RewardSettings, 'evalEvery' | 'profileEvery'>;
  ppo: Pick<PpoStageSettings, 'sampleEvery' | 'profileEvery'>;
}

/**
 * A pipeline preset (`webgpu-rlhf pipeline --preset …`) as the page's stages:
 * the same model and training settings, one round at a time (the person
 * ranks), with the page's own cadence of looking.
 */
function fromPipeline(p: PipelineSettings, look: Cadence): StageSettings {
  const model = { model: p.model, contextLength: p.modelOverrides.nPositions ?? preset(p.model).nPositions, seed: p.seed };
  return {
    pretrain: lm({ ...model, ...p.pretrain, ...look.pretrain }),
    sft: lm({ ...model, ...p.sft, ...look.sft }),
    reward: reward({ seed: p.seed, ...p.reward, ...look.reward }),
    ppo: ppo({
      seed: p.seed,
      // The section's PPO settings (the schema drops the pipeline's own: evaluation, value model) and its cadence.
      ...ppoSettingsSchema.partial().parse(p.ppo),
      steps: p.ppo.steps,
      lr: p.ppo.lr,
      warmup: p.ppo.warmup,
      ...look.ppo,
    }),
  };
}

/** `quick` is a few seconds of each stage; `cpu` and `gpu` are the CLI pipeline's presets. */
export const PRESETS_BY_STAGE: Record<PresetName, StageSettings> = {
  quick: {
    pretrain: lm({ steps: 30, batchSize: 4, seqLen: 32, evalEvery: 10, sampleEvery: 10 }),
    sft: lm({ steps: 20, batchSize: 4, seqLen: 64, lr: 1e-3 }),
    reward: reward({ steps: 20, batchSize: 8 }),
    ppo: ppo({ steps: 6, batchSize: 4, responseLength: 16, miniBatches: 1, sampleEvery: 2 }),
  },
  cpu: fromPipeline(PIPELINE_PRESETS.cpu, {
    pretrain: { evalEvery: 100, sampleEvery: 100, profileEvery: 20 },
    sft: { evalEvery: 50, sampleEvery: 25, profileEvery: 10 },
    reward: { evalEvery: 40, profileEvery: 10 },
    ppo: { sampleEvery: 5, profileEvery: 5 },
  }),
  gpu: fromPipeline(PIPELINE_PRESETS.gpu, {
    pretrain: { evalEvery: 100, sampleEvery: 100, profileEvery: 50 },
    sft: { evalEvery: 40, sampleEvery: 20, profileEvery: 20 },
    reward: { evalEvery: 50, profileEvery: 20 },
    ppo: { sampleEvery: 10, profileEvery: 10 },
  }),
};

/**
 * An edited config as the stage's settings: JSON, every key of the stage's
 * settings and no other, each of the right type and range. Errors name the
 * key (and JSON's own position when it does not parse).
 */
export function parseSettings<S extends StageName>(stage: S, text: string): StageSettings[S] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`config: not valid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('config: expected a JSON object of settings');
  const schema = STAGE_SCHEMAS[stage];
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') throw new Error(`config: unknown key "${issue.keys[0]}" for ${stage} (known: ${Object.keys(schema.shape).join(', ')})`);
    const key = String(issue.path[0]);
    if (!(key in (value as object))) throw new Error(`config: "${key}" is missing`);
    throw new Error(`config: "${key}": ${issue.message}`);
  }
  return parsed.data as StageSettings[S];
}
