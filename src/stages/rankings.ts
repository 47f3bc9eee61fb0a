/**
 * The rankings stage: one or more policies answer each prompt several times
 * and a judge (a person; for the built-in task its gold labeler) orders the
 * answers into ranking records ({"prompt","ranking":[best, …, worst]}), the
 * format `reward` trains on. Later RLHF rounds sample the current policy and
 * the SFT policy side by side, so the reward model keeps seeing the mistakes
 * it was first fitted on as well as the new policy's.
 */
import { z } from 'zod';
import type { Gpu } from '../gpu/gpu.ts';
import { Generator } from '../model/generate.ts';
import { GPT } from '../model/gpt.ts';
import { samplingSettingsSchema } from '../model/sampling-settings.ts';
import type { Weights } from '../model/weights.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import type { StageOutcome } from './stage.ts';

/** The rankings stage's settings (the stage contract: stage.ts); sampling's are picked from samplingSettingsSchema. */
export const schema = z.object({
  samples: z.number().int().min(2).describe('responses per prompt from the policy, ranked together'),
  // Responses to rank must differ: no greedy decoding.
  temperature: samplingSettingsSchema.shape.temperature.positive().describe('sampling temperature (> 0: the responses to rank must differ)'),
  maxNewTokens: samplingSettingsSchema.shape.maxNewTokens,
  seed: samplingSettingsSchema.shape.seed,
});
export type Settings = z.infer<typeof schema>;
/** Four responses a prompt, as InstructGPT's labelers ranked 4 to 9. */
export const defaults: Settings = { samples: 4, temperature: 0.7, maxNewTokens: 32, seed: 0 };

/** A further policy that answers each prompt, after `from`. */
export interface RankingSource {
  weights: Weights;
  /** responses per prompt from this policy */
  samples: number;
}

/** What the rankings stage works on that is not a setting. */
export interface RankingsInput {
  tokenizer: Tokenizer;
  prompts: readonly string[];
  /**
   * further policies that answer after `from`, each `samples` times per
   * prompt (e.g. the SFT policy in later RLHF rounds); a prompt's responses,
   * all sources', are ranked together
   */
  others?: readonly RankingSource[];
  /** the judge: a ranking record of a prompt's responses, or null when it cannot tell them apart */
  rank(prompt: string, responses: readonly string[]): { prompt: string; ranking: string[] } | null;
  /** a judge's score of one response, only to report the sampled responses' mean (optional) */
  score?(prompt: string, response: string): number;
}

export interface RankingsHooks {
  /** after each batch of prompts, with how many are done */
  onProgress?(done: number): void;
  /** polled between batches */
  shouldStop?(): boolean;
}

export interface RankingsSummary {
  responses: number;
  pairs: number;
  /** the judge's mean score of every sampled response (NaN without `score`) */
  meanScore: number;
  /** whether shouldStop ended it early */
  stopped: boolean;
  longestPrompt: number;
  /** ranking records made (the judge may leave a prompt out) */
  rankings: number;
}

export interface RankingsOutcome extends StageOutcome<RankingsSummary> {
  /** ranking records, one JSON object a line */
  records: string[];
}

/** Prompts answered per batch: enough responses to keep the GPU busy, the same batches for every source. */
const RESPONSES_PER_BATCH = 64;

/**
 * `from` answers every prompt `settings.samples` times (then each of
 * `input.others`), and the judge ranks a prompt's responses. Trains nothing:
 * the outcome's weights are `from`.
 */
export async function run(gpu: Gpu, from: Weights, settings: Settings, input: RankingsInput, hooks: RankingsHooks = {}): Promise<RankingsOutcome> {
  const { tokenizer, prompts } = input;
  // Source 0 is `from`, then the others in order: the seeds depend on the order.
  const sources: readonly RankingSource[] = [{ weights: from, samples: settings.samples }, ...(input.others ?? [])];
  const encoded = prompts.map((p) => tokenizer.encode(p));
  const longest = Math.max(...encoded.map((e) => e.length));
  const promptsPerBatch = Math.max(1, Math.floor(RESPONSES_PER_BATCH / Math.max(...sources.map((s) => s.samples))));
  const samplers = sources.map((source) => {
    const model = new GPT(gpu, source.weights.config, 1, 1);
    model.setParameters(source.weights.params);
    const generator = new Generator(model, { maxBatch: promptsPerBatch * source.samples, maxLength: longest + settings.maxNewTokens });
    return { model, generator, samples: source.samples };
  });
  const records: string[] = [];
  let pairs = 0;
  let scoreSum = 0;
  let sampled = 0;
  let stopped = false;
  try {
    for (let first = 0; first < encoded.length; first += promptsPerBatch) {
      if (hooks.shouldStop?.()) {
        stopped = true;
        break;
      }
      const batch = encoded.slice(first, first + promptsPerBatch);
      const answers: string[][] = batch.map(() => []);
      for (const [s, sampler] of samplers.entries()) {
        const K = sampler.samples;
        const generation = await sampler.generator.generate(
          batch.flatMap((p) => Array.from({ length: K }, () => p)),
          // Source 0 keeps the seeds a one-source run always had.
          { maxNewTokens: settings.maxNewTokens, temperature: settings.temperature, seed: settings.seed * 7919 + first + s * 104729, eosId: tokenizer.eosId },
        );
        batch.forEach((_, i) => answers[i]!.push(...generation.responses.slice(i * K, (i + 1) * K).map((r) => tokenizer.decode(r))));
      }
      answers.forEach((responses, i) => {
        const prompt = prompts[first + i]!;
        sampled += responses.length;
        if (input.score) for (const r of responses) scoreSum += input.score(prompt, r);
        const record = input.rank(prompt, responses);
        if (record) {
          records.push(JSON.stringify(record));
          pairs += (record.ranking.length * (record.ranking.length - 1)) / 2;
        }
      });
      hooks.onProgress?.(Math.min(first + promptsPerBatch, encoded.length));
    }
  } finally {
    for (const s of samplers) {
      s.generator.destroy();
      s.model.destroy();
    }
  }
  return {
    weights: from,
    summary: {
      responses: sampled,
      pairs,
      meanScore: input.score ? scoreSum / Math.max(1, sampled) : NaN,
      stopped,
      longestPrompt: longest,
      rankings: records.length,
    },
    records,
  };
}
