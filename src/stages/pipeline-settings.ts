/**
 * What a pipeline run is told (one zod schema, PPO's part picked from the
 * core's PPO settings, the rankings' and evaluation's from their stages'
 * schemas) and its two presets: `cpu`, the default run, and `gpu`.
 */
import { z } from 'zod';
import { ppoSettingsSchema } from '../train/ppo-settings.ts';
import { trainingSettingsSchema } from '../train/training-settings.ts';
import { schema as evaluateSchema } from './evaluate.ts';
import { schema as rankingsSchema } from './rankings.ts';

const positiveInt = z.number().int().positive();
/** How long and how fast a trained stage of the pipeline runs (its schedule, AdamW and cadence are the pipeline's own). */
const training = trainingSettingsSchema.pick({ steps: true, batchSize: true, lr: true, warmup: true }).shape;
const seqLen = trainingSettingsSchema.shape.seqLen;
export type StageTraining = z.infer<z.ZodObject<typeof training>>;

/**
 * What a pipeline run is told, every setting declared once (PPO's come from
 * ppoSettingsSchema, the rankings' and eval's from their stages). The presets are checked against it, and a --config
 * file may override any part of a preset, nothing else.
 */
export const pipelineSettingsSchema = z.strictObject({
  seed: z.number().int().nonnegative(),
  /** rounds of rankings → reward model → PPO; the ranking prompts are split evenly between them */
  rounds: positiveInt,
  /** a preset name, with overrides */
  model: z.string().min(1),
  modelOverrides: z.strictObject({ nLayer: positiveInt, nHead: positiveInt, nEmbd: positiveInt, nPositions: positiveInt }).partial(),
  task: z.strictObject({ corpusDialogues: positiveInt, sftExamples: positiveInt, rankingPrompts: positiveInt, ppoPrompts: positiveInt, evalPrompts: positiveInt }),
  pretrain: z.strictObject({ ...training, seqLen }),
  sft: z.strictObject({ ...training, seqLen }),
  /**
   * `samples` responses per ranking prompt from the round's starting policy
   * (SFT in round 1), and in later rounds `sftSamples` more from SFT, ranked together
   */
  rankings: z.strictObject({
    samples: rankingsSchema.shape.samples,
    sftSamples: z.number().int().nonnegative(),
    temperature: rankingsSchema.shape.temperature,
    maxNewTokens: rankingsSchema.shape.maxNewTokens,
  }),
  /** each round's steps; batchSize counts responses; evalFraction of each round's ranked prompts is held out */
  reward: z.strictObject({ ...training, evalFraction: z.number().gt(0).lt(1) }),
  /**
   * each round's PPO; targetKl (null: a fixed klCoef) steers β by Ziegler et
   * al.'s controller, whose β carries from round to round; every evalEvery
   * steps the first evalPrompts held-out prompts are answered and scored by
   * the reward model and the gold labeler (the over-optimisation curve).
   * PPO settings not named here keep PPO_DEFAULTS.
   */
  ppo: ppoSettingsSchema
    .pick({ responseLength: true, temperature: true, klCoef: true, targetKl: true, klHorizon: true, ppoEpochs: true, miniBatches: true, missingEosPenalty: true })
    .extend({
      ...training,
      evalEvery: z.number().int().nonnegative(),
      evalPrompts: z.number().int().nonnegative(),
      /** after round 1: 'carry' the last round's value model on, or 'restart' it from the new reward model */
      value: z.enum(['carry', 'restart']),
    })
    .strict(),
  /** both policies sample at `temperature` */
  eval: z.strictObject({ temperature: evaluateSchema.shape.temperature, maxNewTokens: evaluateSchema.shape.maxNewTokens, batchSize: evaluateSchema.shape.batchSize }),
});

export type PipelineSettings = z.infer<typeof pipelineSettingsSchema>;

/**
 * The default run, sized for a CPU adapter (lavapipe on two cores: a few
 * minutes); `gpu` is a larger model trained longer, for real GPUs.
 */
export const PIPELINE_PRESETS: Record<'cpu' | 'gpu', PipelineSettings> = {
  cpu: {
    seed: 1,
    rounds: 3,
    model: 'tiny',
    modelOverrides: { nPositions: 80 },
    task: { corpusDialogues: 3000, sftExamples: 400, rankingPrompts: 1536, ppoPrompts: 200, evalPrompts: 128 },
    pretrain: { steps: 800, batchSize: 8, seqLen: 64, lr: 1e-2, warmup: 20 },
    sft: { steps: 250, batchSize: 8, seqLen: 64, lr: 2e-3, warmup: 5 },
    rankings: { samples: 4, sftSamples: 2, temperature: 0.7, maxNewTokens: 32 },
    reward: { steps: 200, batchSize: 16, lr: 3e-4, warmup: 10, evalFraction: 0.2 },
    ppo: {
      steps: 25, batchSize: 16, lr: 1e-4, warmup: 0, responseLength: 32, temperature: 0.7, klCoef: 0.2, targetKl: 1, klHorizon: 100,
      ppoEpochs: 2, miniBatches: 2, missingEosPenalty: 1, evalEvery: 5, evalPrompts: 64, value: 'restart',
    },
    eval: { temperature: 0.7, maxNewTokens: 32, batchSize: 32 },
  },
  gpu: {
    seed: 1,
    rounds: 3,
    model: 'mid',
    modelOverrides: { nPositions: 128 },
    task: { corpusDialogues: 20000, sftExamples: 1000, rankingPrompts: 1536, ppoPrompts: 512, evalPrompts: 256 },
    pretrain: { steps: 1500, batchSize: 32, seqLen: 64, lr: 1e-3, warmup: 100 },
    sft: { steps: 200, batchSize: 32, seqLen: 64, lr: 3e-4, warmup: 10 },
    rankings: { samples: 4, sftSamples: 2, temperature: 1, maxNewTokens: 32 },
    reward: { steps: 400, batchSize: 32, lr: 3e-4, warmup: 20, evalFraction: 0.2 },
    ppo: {
      steps: 100, batchSize: 32, lr: 1e-5, warmup: 0, responseLength: 32, temperature: 1, klCoef: 0.1, targetKl: 4, klHorizon: 500,
      ppoEpochs: 2, miniBatches: 2, missingEosPenalty: 1, evalEvery: 10, evalPrompts: 128, value: 'restart',
    },
    eval: { temperature: 1, maxNewTokens: 32, batchSize: 64 },
  },
};

export type PipelinePresetName = keyof typeof PIPELINE_PRESETS;
