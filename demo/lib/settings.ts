/**
 * What each stage of the page can be told, the presets, and the checking of
 * an edited config (unknown keys and wrong types are errors that say which).
 */
import { PRESETS } from '../../src/index.ts';

export const STAGES = ['pretrain', 'sft', 'reward', 'ppo'] as const;
export type StageName = (typeof STAGES)[number];

export const STAGE_TITLES: Record<StageName, string> = {
  pretrain: 'Pretraining',
  sft: 'Supervised fine-tuning',
  reward: 'Reward model',
  ppo: 'PPO',
};

/** Shared by every stage: how long, how fast, and how often to look. */
interface Common {
  steps: number;
  lr: number;
  warmup: number;
  schedule: 'constant' | 'cosine';
  seed: number;
  /** time every dispatch of one step in this many (the Shader timings tab) */
  profileEvery: number;
}

export interface LanguageModelSettings extends Common {
  /** the model preset a fresh run starts from (when there is no current policy) */
  model: string;
  /** context length of a fresh model */
  contextLength: number;
  batchSize: number;
  seqLen: number;
  evalEvery: number;
  /** sample responses (and save the run in the browser) every this many steps */
  sampleEvery: number;
}

export interface RewardSettings extends Common {
  /** responses per batch (a ranking of K takes K) */
  batchSize: number;
  /** share of the ranked prompts held out for eval_accuracy */
  evalFraction: number;
  evalEvery: number;
}

export interface PpoStageSettings extends Common {
  /** prompts per PPO step */
  batchSize: number;
  responseLength: number;
  temperature: number;
  klCoef: number;
  ppoEpochs: number;
  miniBatches: number;
  sampleEvery: number;
}

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
  ppoEpochs: 2,
  miniBatches: 2,
  lr: 3e-4,
  warmup: 0,
  schedule: 'constant',
  sampleEvery: 2,
  profileEvery: 1,
  seed: 1,
  ...o,
});

/** `cpu` follows the CLI pipeline's CPU-sized run; `quick` is a few seconds of each stage. */
export const PRESETS_BY_STAGE: Record<PresetName, StageSettings> = {
  quick: {
    pretrain: lm({ steps: 30, batchSize: 4, seqLen: 32, evalEvery: 10, sampleEvery: 10 }),
    sft: lm({ steps: 20, batchSize: 4, seqLen: 64, lr: 1e-3 }),
    reward: reward({ steps: 20, batchSize: 8 }),
    ppo: ppo({ steps: 6, batchSize: 4, responseLength: 16, miniBatches: 1, sampleEvery: 2 }),
  },
  cpu: {
    pretrain: lm({ steps: 300, batchSize: 16, seqLen: 64, lr: 3e-3, warmup: 20, evalEvery: 60, sampleEvery: 30, profileEvery: 10 }),
    sft: lm({ steps: 60, batchSize: 16, seqLen: 64, lr: 1e-3, warmup: 5, evalEvery: 12, sampleEvery: 10, profileEvery: 10 }),
    reward: reward({ steps: 120, batchSize: 16, lr: 1e-3, warmup: 10, evalEvery: 24, profileEvery: 10 }),
    ppo: ppo({ steps: 40, batchSize: 16, responseLength: 32, ppoEpochs: 4, miniBatches: 2, sampleEvery: 5, profileEvery: 5 }),
  },
  gpu: {
    pretrain: lm({ model: 'mid', contextLength: 128, steps: 1500, batchSize: 32, seqLen: 64, lr: 1e-3, warmup: 100, evalEvery: 100, sampleEvery: 100, profileEvery: 50 }),
    sft: lm({ model: 'mid', contextLength: 128, steps: 200, batchSize: 32, seqLen: 64, lr: 3e-4, warmup: 10, evalEvery: 40, sampleEvery: 20, profileEvery: 20 }),
    reward: reward({ steps: 400, batchSize: 32, lr: 3e-4, warmup: 20, evalEvery: 50, profileEvery: 20 }),
    ppo: ppo({ steps: 150, batchSize: 32, responseLength: 32, lr: 1e-4, ppoEpochs: 4, miniBatches: 2, sampleEvery: 10, profileEvery: 10 }),
  },
};

/**
 * An edited config as the stage's settings: JSON, the keys of the stage's
 * settings only, each of the right type. Errors name the key (and JSON's own
 * position when it does not parse).
 */
export function parseSettings<S extends StageName>(stage: S, text: string): StageSettings[S] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`config: not valid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('config: expected a JSON object of settings');
  const template = PRESETS_BY_STAGE.quick[stage] as unknown as Record<string, unknown>;
  const result: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (!(key in template)) throw new Error(`config: unknown key "${key}" for ${stage} (known: ${Object.keys(template).join(', ')})`);
    const expected = typeof template[key];
    if (typeof v !== expected) throw new Error(`config: "${key}" must be a ${expected}, got ${JSON.stringify(v)}`);
    if (expected === 'number' && (!Number.isFinite(v) || (v as number) < 0)) throw new Error(`config: "${key}" must be a non-negative number`);
    result[key] = v;
  }
  for (const key of Object.keys(template)) if (!(key in result)) throw new Error(`config: "${key}" is missing`);
  for (const key of ['steps', 'batchSize', 'seqLen', 'contextLength', 'sampleEvery', 'profileEvery', 'responseLength', 'ppoEpochs', 'miniBatches']) {
    if (key in result && (!Number.isInteger(result[key]) || (result[key] as number) < 1)) throw new Error(`config: "${key}" must be a positive integer`);
  }
  if ('schedule' in result && result.schedule !== 'constant' && result.schedule !== 'cosine') throw new Error('config: "schedule" must be "constant" or "cosine"');
  if ('model' in result && !(String(result.model) in PRESETS)) throw new Error(`config: "model" must be one of ${Object.keys(PRESETS).join(', ')}`);
  return result as unknown as StageSettings[S];
}
