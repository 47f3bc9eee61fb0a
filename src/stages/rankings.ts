/**
 * The rankings stage: one or more policies answer each prompt several times
 * and a judge (a person; for the built-in task its gold labeler) orders the
 * answers into ranking records ({"prompt","ranking":[best, …, worst]}), the
 * format `reward` trains on. Later RLHF rounds sample the current policy and
 * the SFT policy side by side, so the reward model keeps seeing the mistakes
 * it was first fitted on as well as the new policy's.
 */
import type { Gpu } from '../gpu/gpu.ts';
import { Generator } from '../model/generate.ts';
import { GPT } from '../model/gpt.ts';
import type { Weights } from '../model/weights.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';

export interface RankingSource {
  weights: Weights;
  /** responses per prompt from this policy */
  samples: number;
}

export interface RankingRun {
  gpu: Gpu;
  tokenizer: Tokenizer;
  prompts: readonly string[];
  /** the policies that answer, each `samples` times per prompt; a prompt's responses are ranked together */
  sources: readonly RankingSource[];
  temperature: number;
  maxNewTokens: number;
  seed: number;
  /** the judge: a ranking record of a prompt's responses, or null when it cannot tell them apart */
  rank(prompt: string, responses: readonly string[]): { prompt: string; ranking: string[] } | null;
  /** a judge's score of one response, only to report the sampled responses' mean (optional) */
  score?(prompt: string, response: string): number;
  /** after each batch of prompts, with how many are done */
  onProgress?(done: number): void;
  shouldStop?(): boolean;
}

export interface RankingResult {
  /** ranking records, one JSON object a line */
  records: string[];
  responses: number;
  pairs: number;
  /** the judge's mean score of every sampled response (NaN without `score`) */
  meanScore: number;
  /** whether shouldStop ended it early */
  stopped: boolean;
  longestPrompt: number;
}

/** Prompts answered per batch: enough responses to keep the GPU busy, the same batches for every source. */
const RESPONSES_PER_BATCH = 64;

export async function sampleRankings(run: RankingRun): Promise<RankingResult> {
  const encoded = run.prompts.map((p) => run.tokenizer.encode(p));
  const longest = Math.max(...encoded.map((e) => e.length));
  const promptsPerBatch = Math.max(1, Math.floor(RESPONSES_PER_BATCH / Math.max(...run.sources.map((s) => s.samples))));
  const samplers = run.sources.map((source) => {
    const model = new GPT(run.gpu, source.weights.config, 1, 1);
    model.setParameters(source.weights.params);
    const generator = new Generator(model, { maxBatch: promptsPerBatch * source.samples, maxLength: longest + run.maxNewTokens });
    return { model, generator, samples: source.samples };
  });
  const records: string[] = [];
  let pairs = 0;
  let scoreSum = 0;
  let sampled = 0;
  let stopped = false;
  try {
    for (let first = 0; first < encoded.length; first += promptsPerBatch) {
      if (run.shouldStop?.()) {
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
          { maxNewTokens: run.maxNewTokens, temperature: run.temperature, seed: run.seed * 7919 + first + s * 104729, eosId: run.tokenizer.eosId },
        );
        batch.forEach((_, i) => answers[i]!.push(...generation.responses.slice(i * K, (i + 1) * K).map((r) => run.tokenizer.decode(r))));
      }
      answers.forEach((responses, i) => {
        const prompt = run.prompts[first + i]!;
        sampled += responses.length;
        if (run.score) for (const r of responses) scoreSum += run.score(prompt, r);
        const record = run.rank(prompt, responses);
        if (record) {
          records.push(JSON.stringify(record));
          pairs += (record.ranking.length * (record.ranking.length - 1)) / 2;
        }
      });
      run.onProgress?.(Math.min(first + promptsPerBatch, encoded.length));
    }
  } finally {
    for (const s of samplers) {
      s.generator.destroy();
      s.model.destroy();
    }
  }
  return { records, responses: sampled, pairs, meanScore: run.score ? scoreSum / Math.max(1, sampled) : NaN, stopped, longestPrompt: longest };
}
