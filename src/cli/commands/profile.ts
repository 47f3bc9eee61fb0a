/**
 * `webgpu-rlhf profile`: where a training step's GPU time goes, kernel by
 * kernel (DESIGN's Profiles), as a table and as a Chrome trace that opens in
 * Perfetto or chrome://tracing.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { Rng } from '../../data/random.ts';
import { kernelTableRows, summarizeByKernel, toChromeTrace } from '../../gpu/profile-report.ts';
import { Profiler, type DispatchTiming } from '../../gpu/profiler.ts';
import { preset, PRESETS, type GPTConfig } from '../../model/config.ts';
import { GPT } from '../../model/gpt.ts';
import { initParameters } from '../../model/params.ts';
import { AdamW, ADAMW_DEFAULTS } from '../../train/adamw.ts';
import { requestCommandGpu } from '../autotune-cache.ts';
import { number, resolveOptions } from '../options.ts';
import { loadModel } from '../run-dir.ts';
import { formatTable } from '../text-table.ts';

const schema = z.strictObject({
  init: z.string().min(1).optional(),
  model: z.enum(Object.keys(PRESETS) as [keyof typeof PRESETS, ...(keyof typeof PRESETS)[]]),
  batchSize: z.number().int().positive(),
  seqLen: z.number().int().positive(),
  steps: z.number().int().positive(),
  trace: z.string().min(1).optional(),
  json: z.boolean().optional(),
});

export function registerProfile(program: Command): void {
  const cmd = program
    .command('profile')
    .description(
      'GPU time per kernel over a training step (forward, backward, AdamW) on random tokens: a table by kernel, and a Chrome trace (Perfetto, chrome://tracing)',
    )
    .option('--config <file>', 'JSON file whose keys are any of these options')
    .option('--init <dir>', 'profile this run directory or Hugging Face GPT-2 folder')
    .option('--model <preset>', `model preset when not --init: ${Object.keys(PRESETS).join(', ')}`, 'tiny')
    .option('--batch-size <n>', 'sequences per step', number, 4)
    .option('--seq-len <n>', 'tokens per sequence', number, 64)
    .option('--steps <n>', 'profiled steps, after one that compiles the kernels', number, 3)
    .option('--trace <file>', 'also write every dispatch as Chrome Trace Event JSON')
    .option('--json', 'print JSON instead of the table');
  cmd.action(async () => {
    const o = resolveOptions(cmd, schema);
    const weights = o.init ? loadModel(o.init) : null;
    const config: GPTConfig = weights?.config ?? preset(o.model);
    if (o.seqLen > config.nPositions) {
      throw new Error(`--seq-len: ${o.seqLen} is longer than the model's context of ${config.nPositions} positions`);
    }
    const log = (line: string) => (o.json ? console.error : console.log)(`profile: ${line}`);
    const gpu = await requestCommandGpu(log);
    const model = new GPT(gpu, config, o.batchSize, o.seqLen, { microBatchSize: o.batchSize });
    model.setParameters(weights?.params ?? initParameters(config, 1));
    const optimizer = new AdamW(gpu, model.params, ADAMW_DEFAULTS);
    const rng = new Rng(1);
    const batch = {
      tokens: rng.fillInt(new Int32Array(o.batchSize * o.seqLen), config.vocabSize),
      targets: rng.fillInt(new Int32Array(o.batchSize * o.seqLen), config.vocabSize),
    };
    const timings: DispatchTiming[] = [];
    let stepMs: number;
    let timestamps: boolean;
    try {
      log(`model L=${config.nLayer} C=${config.nEmbd} NH=${config.nHead} V=${config.vocabSize} (${o.init ?? `preset ${o.model}`}), B=${o.batchSize} T=${o.seqLen}`);
      await model.trainStep(batch, optimizer); // compiles
      const started = performance.now();
      await model.trainStep(batch, optimizer);
      stepMs = performance.now() - started;
      // A pass per dispatch with timestamps around each; without timestamp
      // queries, each dispatch submitted alone and timed on the CPU.
      const profiler = new Profiler(gpu, { cpuTimings: 'fallback' });
      timestamps = profiler.timestamps;
      for (let s = 0; s < o.steps; s++) {
        await model.trainStep(batch, optimizer, profiler);
      }
      timings.push(...(await profiler.collect()));
    } finally {
      optimizer.destroy();
      model.destroy();
      gpu.destroy();
    }
    const kernels = summarizeByKernel(timings);
    if (o.trace) writeFileSync(o.trace, toChromeTrace(timings, `webgpu-rlhf profile (${gpu.name})`));
    if (o.json) {
      console.log(JSON.stringify({ adapter: gpu.name, config, batchSize: o.batchSize, seqLen: o.seqLen, steps: o.steps, stepMs, timestamps, kernels }, null, 2));
      return;
    }
    const gpuMs = kernels.reduce((sum, k) => sum + k.totalMs, 0);
    console.log(
      `\n${o.steps} profiled step${o.steps > 1 ? 's' : ''}, ${timings.length} dispatches, ${gpuMs.toFixed(1)} ms of ${timestamps ? 'GPU time (timestamp queries)' : 'time measured on the CPU (no timestamp queries)'}, ` +
        `a pass per dispatch; an unprofiled step takes ${stepMs.toFixed(1)} ms:`,
    );
    for (const line of formatTable(kernelTableRows(kernels))) console.log(line);
    if (o.trace) console.log(`wrote ${o.trace} (open it in https://ui.perfetto.dev or chrome://tracing)`);
  });
}
