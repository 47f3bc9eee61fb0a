/**
 * How responses are sampled (length, temperature, top-k, top-p, seed),
 * declared once: `samplingSettingsSchema` (zod: bounds and help) and
 * `SAMPLING_DEFAULTS`. The commands that generate (generate, sample, eval)
 * take their flags from it, each with its own defaults.
 */
import { z } from 'zod';

const nonNegativeInt = z.number().int().nonnegative();

export const samplingSettingsSchema = z.object({
  maxNewTokens: z.number().int().positive().describe('tokens to generate at most per response'),
  temperature: z.number().nonnegative().describe('sampling temperature (0 = greedy)'),
  topK: nonNegativeInt.describe('sample from the k most likely tokens (0 = all)'),
  topP: z.number().gt(0).max(1).describe('sample from the smallest set of tokens holding this much probability (1 = all)'),
  seed: nonNegativeInt.describe('sampling seed'),
});

export type SamplingSettings = z.infer<typeof samplingSettingsSchema>;

export const SAMPLING_DEFAULTS: SamplingSettings = { maxNewTokens: 64, temperature: 1, topK: 0, topP: 1, seed: 0 };
