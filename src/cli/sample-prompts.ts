/**
 * Sampling many prompts from one checkpoint in batches on the GPU, with the
 * KV cache: what `generate` prints and `sample` writes for people to rank.
 */
import type { Gpu } from '../gpu/gpu.ts';
import type { GPTConfig } from '../model/config.ts';
import { Generator } from '../model/generate.ts';
import { GPT } from '../model/gpt.ts';
import type { Tokenizer } from '../tokenizer/index.ts';

export interface SampleSettings {
  maxNewTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  batchSize: number;
  kvCache?: boolean;
}

export interface SampledResponse {
  /** index into the prompts */
  index: number;
  /** token ids, EOS excluded */
  tokens: Int32Array;
  finished: boolean;
}

/** Token ids of each prompt; refuses a prompt that leaves no room for maxNewTokens in the context. */
export function encodePrompts(prompts: readonly string[], tokenizer: Tokenizer, config: GPTConfig, maxNewTokens: number, flag = '--max-new-tokens'): Int32Array[] {
  return prompts.map((p, i) => {
    const ids = tokenizer.encode(p);
    if (ids.length + maxNewTokens > config.nPositions) {
      throw new Error(`prompt ${i + 1} has ${ids.length} tokens; with ${flag} ${maxNewTokens} it exceeds the model's context of ${config.nPositions}`);
    }
    return ids;
  });
}

/**
 * Responses to `encoded`, `batchSize` prompts decoded together; batch k is
 * seeded seed + its first prompt's index, so a prompt's response depends on
 * the seed and the batching only. `onBatch` sees each batch as it ends.
 */
export async function samplePrompts(
  gpu: Gpu,
  weights: { config: GPTConfig; params: ReadonlyMap<string, Float32Array> },
  tokenizer: Tokenizer,
  encoded: readonly Int32Array[],
  s: SampleSettings,
  onBatch: (responses: SampledResponse[]) => void,
): Promise<void> {
  const longest = Math.max(...encoded.map((e) => e.length));
  const model = new GPT(gpu, weights.config, 1, 1);
  model.setParameters(weights.params);
  const generator = new Generator(model, {
    maxBatch: Math.min(s.batchSize, encoded.length),
    maxLength: Math.min(weights.config.nPositions, longest + s.maxNewTokens),
  });
  try {
    for (let first = 0; first < encoded.length; first += s.batchSize) {
      const out = await generator.generate(encoded.slice(first, first + s.batchSize), {
        maxNewTokens: s.maxNewTokens,
        temperature: s.temperature,
        topK: s.topK,
        topP: s.topP,
        seed: s.seed + first,
        eosId: tokenizer.eosId,
        // A padded vocabulary's ids beyond the tokenizer's are never sampled.
        vocabLimit: tokenizer.vocabSize,
        kvCache: s.kvCache ?? true,
      });
      onBatch(out.responses.map((tokens, i) => ({ index: first + i, tokens, finished: out.finished[i]! })));
    }
  } finally {
    generator.destroy();
    model.destroy();
  }
}
