/**
 * Generation speed with and without the KV cache (batch of prompts, sampled,
 * every sequence running to the token limit). bench/index.ts calls
 * benchGeneration; run alone it prints a table for the presets:
 *
 *   npx vite-node bench/generate.ts [--presets tiny,mid] [--batch 4] [--prompt 8] [--new 32]
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { requestGpu } from '../src/gpu/device.ts';
import type { Gpu } from '../src/gpu/gpu.ts';
import { preset } from '../src/model/config.ts';
import { Generator, type GenerateOptions } from '../src/model/generate.ts';
import { GPT } from '../src/model/gpt.ts';
import { initParameters } from '../src/model/params.ts';

export interface GenerationBench {
  adapter: string;
  preset: string;
  batch: number;
  promptTokens: number;
  newTokens: number;
  /** generated tokens (batch x newTokens) per second of generate(), prompt processing included */
  cachedTokensPerSecond: number;
  uncachedTokensPerSecond: number;
  cachedMs: number;
  uncachedMs: number;
  speedup: number;
}

/**
 * Times generate() with and without the KV cache on a randomly initialised
 * model of the preset. The cached path is timed `cachedRuns` times (median),
 * the slow baseline once; pipelines are compiled by a short warm-up first.
 */
export async function benchGeneration(
  gpu: Gpu,
  presetName: string,
  batch = 4,
  promptTokens = 8,
  newTokens = 32,
  cachedRuns = 3,
): Promise<GenerationBench> {
  const config = preset(presetName);
  const model = new GPT(gpu, config, 1, 8);
  model.setParameters(initParameters(config, 1));
  const gen = new Generator(model, { maxBatch: batch, maxLength: promptTokens + newTokens });
  const prompts = Array.from({ length: batch }, (_, b) =>
    Int32Array.from({ length: promptTokens }, (_, i) => (b * 31 + i * 7) % Math.min(256, config.vocabSize)),
  );
  // eosId -1: no early stop, so both paths produce every token.
  const opts: GenerateOptions = { maxNewTokens: newTokens, temperature: 1, seed: 1, eosId: -1 };
  const time = async (kvCache: boolean, runs: number) => {
    await gen.generate(prompts, { ...opts, maxNewTokens: 2, kvCache }); // compile the pipelines
    const ms: number[] = [];
    for (let r = 0; r < runs; r++) {
      const start = performance.now();
      await gen.generate(prompts, { ...opts, kvCache });
      ms.push(performance.now() - start);
    }
    return ms.sort((x, y) => x - y)[Math.floor(runs / 2)]!;
  };
  try {
    const cachedMs = await time(true, cachedRuns);
    const uncachedMs = await time(false, 1);
    const perSecond = (ms: number) => (batch * newTokens) / (ms / 1000);
    return {
      adapter: gpu.name,
      preset: presetName,
      batch,
      promptTokens,
      newTokens,
      cachedTokensPerSecond: perSecond(cachedMs),
      uncachedTokensPerSecond: perSecond(uncachedMs),
      cachedMs,
      uncachedMs,
      speedup: uncachedMs / cachedMs,
    };
  } finally {
    gen.destroy();
    model.destroy();
  }
}

/**
 * Whether this file is the script being run. vite-node keeps the script's
 * path out of process.argv, so on Linux the command line is read from /proc.
 */
function runAsScript(): boolean {
  const self = fileURLToPath(import.meta.url);
  const args = [...process.argv];
  if (existsSync('/proc/self/cmdline')) args.push(...readFileSync('/proc/self/cmdline', 'utf8').split('\0'));
  return args.some((a) => a !== '' && resolve(a) === self);
}

if (runAsScript()) {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      presets: { type: 'string', default: 'tiny,mid' },
      batch: { type: 'string', default: '4' },
      prompt: { type: 'string', default: '8' },
      new: { type: 'string', default: '32' },
    },
    allowPositionals: true,
  });
  const gpu = await requestGpu();
  const batch = Number(values.batch);
  const promptTokens = Number(values.prompt);
  const newTokens = Number(values.new);
  console.log(`adapter: ${gpu.name}`);
  console.log(`generation, batch ${batch}, ${promptTokens}-token prompts, ${newTokens} new tokens, sampled at temperature 1:`);
  console.log('preset  with KV cache        recomputing every prefix  speed-up');
  try {
    for (const name of values.presets.split(',')) {
      const g = await benchGeneration(gpu, name, batch, promptTokens, newTokens);
      console.log(
        `${name.padEnd(7)} ${g.cachedTokensPerSecond.toFixed(1).padStart(8)} tokens/s  ` +
          `${g.uncachedTokensPerSecond.toFixed(1).padStart(13)} tokens/s  ${g.speedup.toFixed(1).padStart(8)}x`,
      );
    }
  } finally {
    gpu.destroy();
  }
}
