/**
 * Every PPO setting, declared once: its type and bounds with what it does
 * (`ppoSettingsSchema`), and its default (`PPO_DEFAULTS`). The `ppo`
 * command's flags and --config checking, the pipeline's presets and config
 * checking and the demo page's validation are all derived from these two.
 */
import { z } from 'zod';

const positiveInt = z.number().int().positive();

export const ppoSettingsSchema = z.object({
  batchSize: positiveInt.describe('prompts (rollouts) per PPO step'),
  maxPromptLength: positiveInt.describe('longest prompt, in tokens; prompt + response length must fit the context'),
  responseLength: positiveInt.describe('tokens generated at most per response (TRL: 53)'),
  temperature: z.number().positive().describe('sampling temperature of rollouts'),
  topK: z.number().int().nonnegative().describe('sample from the k most likely tokens (0 = all)'),
  topP: z.number().gt(0).max(1).describe('nucleus sampling mass (1 = all)'),
  missingEosPenalty: z.number().nullable().describe('subtracted from the score of a response that never ends'),
  scoreClip: z.number().positive().nullable().describe('clip scores to ±x'),
  whitenRewards: z.boolean().describe("whiten per-token rewards before GAE (unit variance, mean kept), as TRL's whiten_rewards"),
  klCoef: z.number().nonnegative().describe('beta: per-token KL penalty to the reference'),
  klEstimator: z.enum(['k1', 'k3']).describe('k1 = log p/p_ref, k3 = unbiased, lower variance'),
  targetKl: z.number().positive().nullable().describe('adaptive KL control (Ziegler et al.): steer beta towards this KL per response (none: a fixed beta)'),
  klHorizon: positiveInt.describe('adaptive KL control horizon, in rollouts'),
  gamma: z.number().min(0).max(1).describe('discount'),
  lam: z.number().min(0).max(1).describe('GAE lambda'),
  cliprange: z.number().positive().describe('policy ratio clip'),
  cliprangeValue: z.number().positive().describe('value clip'),
  vfCoef: z.number().positive().describe('value loss coefficient'),
  ppoEpochs: positiveInt.describe('optimisation epochs over each rollout batch'),
  miniBatches: positiveInt.describe('minibatches per epoch (an optimizer step each, a seeded order each epoch); must divide the batch size'),
  ptxCoef: z.number().nonnegative().describe('PPO-ptx (InstructGPT): weight of a pretraining loss added to the policy loss (0 = off)'),
  seed: z.number().int().nonnegative().describe('seed of prompt order, sampling and minibatch order'),
  /** ids at or above this are never sampled: the tokenizer's vocabulary, below a padded model vocabulary (absent: every id) */
  vocabLimit: positiveInt.optional(),
});

export type PpoSettings = z.infer<typeof ppoSettingsSchema>;

/**
 * TRL's PPOConfig defaults, except responseLength (TRL: 53) and the learning
 * rate (an optimizer setting), which the callers set for small models.
 */
export const PPO_DEFAULTS: PpoSettings = {
  batchSize: 16,
  maxPromptLength: 64,
  responseLength: 32,
  temperature: 0.7,
  topK: 0,
  topP: 1,
  missingEosPenalty: null,
  scoreClip: null,
  whitenRewards: false,
  klCoef: 0.05,
  klEstimator: 'k1',
  targetKl: null,
  klHorizon: 10000,
  gamma: 1,
  lam: 0.95,
  cliprange: 0.2,
  cliprangeValue: 0.2,
  vfCoef: 0.1,
  ppoEpochs: 4,
  miniBatches: 1,
  ptxCoef: 0,
  seed: 0,
};
