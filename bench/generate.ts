/** Generation speed with and without the KV cache, for bench/index.ts. */
import type { Gpu } from '../src/gpu/gpu.ts';
import { preset } from '../src/model/config.ts';
import { Generator } from '../src/model/generate.ts';
import { GPT } from '../src/model/gpt.ts';
import { initParameters } from '../src/model/params.ts';

export interface GenerationBench {
  preset: string;
  batch: number;
  promptTokens: number;
  newTokens: number;
  cachedTokensPerSecond: number;
  uncachedTokensPerSecond: number;
  speedup: number;
}

export async function benchGeneration(gpu: Gpu, presetName: string, batch = 4, promptTokens = 8, newTokens = 32): Promise<GenerationBench> {
  const config = preset(presetName);
  const maxLength = promptTokens + newTokens;
  const model = new GPT(gpu, config, 1, 8);
  model.setParameters(initParameters(config, 1));
  const gen = new Generator(model, { maxBatch: batch, maxLength });
  const prompts = Array.from({ length: batch }, (_, b) => Int32Array.from({ length: promptTokens }, (_, i) => (b * 31 + i * 7) % 256));
  // eosId -1: never stop early, so both paths produce every token.
  const opts = { maxNewTokens: newTokens, temperature: 1, seed: 1, eosId: -1 };
  const time = async (kvCache: boolean) => {
    await gen.generate(prompts, { ...opts, maxNewTokens: 2, kvCache }); // compile the pipelines
    const start = performance.now();
    await gen.generate(prompts, { ...opts, kvCache });
    return (batch * newTokens) / ((performance.now() - start) / 1000);
  };
  const cached = await time(true);
  const uncached = await time(false);
  gen.destroy();
  model.destroy();
  return {
    preset: presetName,
    batch,
    promptTokens,
    newTokens,
    cachedTokensPerSecond: cached,
    uncachedTokensPerSecond: uncached,
    speedup: cached / uncached,
  };
}
