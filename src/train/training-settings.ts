/**
 * The settings every trained stage shares (how long, how much a step, the
 * learning-rate schedule, AdamW, and how often to log, evaluate and save),
 * declared once: types, bounds and help in `trainingSettingsSchema`, values
 * in `TRAINING_DEFAULTS`. The training commands' flags, the pipeline's
 * sections and the demo page's stage settings pick from them.
 */
import { z } from 'zod';
import { ADAMW_DEFAULTS } from './adamw.ts';

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();

export const trainingSettingsSchema = z.object({
  steps: positiveInt.describe('optimizer steps'),
  batchSize: positiveInt.describe('sequences per micro-batch'),
  seqLen: positiveInt.describe('tokens per sequence'),
  gradAccum: positiveInt.describe('micro-batches per optimizer step'),
  lr: z.number().positive().describe('peak learning rate'),
  lrSchedule: z.enum(['constant', 'cosine']).describe('constant, or warmup then cosine to lr/10'),
  warmup: nonNegativeInt.describe('linear warmup steps'),
  beta1: z.number().min(0).lt(1).describe('AdamW beta1'),
  beta2: z.number().min(0).lt(1).describe('AdamW beta2'),
  eps: z.number().positive().describe('AdamW epsilon'),
  weightDecay: z.number().nonnegative().describe('AdamW decoupled weight decay (matrices and embeddings only)'),
  gradClip: z.number().nonnegative().describe('clip the global gradient norm to this (0 = off)'),
  seed: nonNegativeInt.describe('seed of initialisation, shuffling and splits'),
  logEvery: positiveInt.describe('log metrics every n steps'),
  evalEvery: nonNegativeInt.describe('held-out loss every n steps (0 = at the end only)'),
  saveEvery: nonNegativeInt.describe('checkpoint every n steps (0 = at the end only)'),
});

export type TrainingSettings = z.infer<typeof trainingSettingsSchema>;

/** The optimizer's part: learning rate, schedule and AdamW. */
export const OPTIMIZER_SETTINGS = { lr: true, lrSchedule: true, warmup: true, beta1: true, beta2: true, eps: true, weightDecay: true, gradClip: true } as const;

/** nanoGPT-style: AdamW's defaults (ADAMW_DEFAULTS), a cosine schedule, llm.c's seed. */
export const TRAINING_DEFAULTS: TrainingSettings = {
  steps: 200,
  batchSize: 8,
  seqLen: 64,
  gradAccum: 1,
  ...ADAMW_DEFAULTS,
  lr: 1e-3,
  lrSchedule: 'cosine',
  warmup: 0,
  seed: 1337,
  logEvery: 10,
  evalEvery: 50,
  saveEvery: 100,
};
