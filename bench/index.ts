/**
 * `npm run bench`: per-kernel GPU times and the training step's speed for
 * the presets, on whatever adapter this machine has. Never part of `npm test`.
 *
 *   npm run bench -- [--presets tiny,mid] [--steps 3] [--batch 4] [--seq-len 64] [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { requestGpu } from '../src/gpu/device.ts';
import { summarizeByKernel, type KernelSummary } from '../src/gpu/profile-report.ts';
import { Profiler } from '../src/gpu/profiler.ts';
import { parameterCount, preset } from '../src/model/config.ts';
import { GPT } from '../src/model/gpt.ts';
import { initParameters } from '../src/model/params.ts';
import { Rng } from '../src/reference/random.ts';
import { AdamW, ADAMW_DEFAULTS } from '../src/train/adamw.ts';
import { benchGeneration, type GenerationBench } from './generate.ts';

const { values } = parseArgs({
  options: {
    presets: { type: 'string', default: 'tiny,mid' },
    steps: { type: 'string', default: '3' },
    batch: { type: 'string', default: '4' },
    'seq-len': { type: 'string', default: '64' },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('usage: npm run bench -- [--presets tiny,mid] [--steps N] [--batch B] [--seq-len T] [--json FILE]');
  process.exit(0);
}

interface PresetResult {
  preset: string;
  parameters: number;
  batch: number;
  seqLen: number;
  stepMs: number;
  tokensPerSecond: number;
  kernels: KernelSummary[];
}

const gpu = await requestGpu();
const steps = Number(values.steps);
const B = Number(values.batch);
const T = Number(values['seq-len']);
console.log(`adapter: ${gpu.name}`);
console.log(`date:    ${new Date().toISOString()}`);
console.log(`timestamp queries: ${gpu.timestamps ? 'yes (per-kernel GPU times)' : 'NO: per-kernel times unavailable, step times are wall-clock'}`);

const results: PresetResult[] = [];
for (const name of values.presets!.split(',')) {
  const config = preset(name);
  const model = new GPT(gpu, config, B, T);
  model.setParameters(initParameters(config, 1));
  const optimizer = new AdamW(gpu, model.params, ADAMW_DEFAULTS);
  const rng = new Rng(1);
  const tokens = rng.fillInt(new Int32Array(B * T), config.vocabSize);
  const targets = rng.fillInt(new Int32Array(B * T), config.vocabSize);
  const batch = { tokens, targets };

  await model.trainStep(batch, optimizer); // compiles every pipeline
  const start = performance.now();
  for (let s = 0; s < steps; s++) await model.trainStep(batch, optimizer);
  const stepMs = (performance.now() - start) / steps;

  // One more step with a pass per dispatch and timestamps around each.
  const profiler = new Profiler(gpu);
  await model.trainStep(batch, optimizer, profiler);
  const kernels = summarizeByKernel(await profiler.collect());
  const result = {
    preset: name,
    parameters: parameterCount(config),
    batch: B,
    seqLen: T,
    stepMs,
    tokensPerSecond: (B * T) / (stepMs / 1000),
    kernels,
  };
  results.push(result);
  printPreset(result);
  optimizer.destroy();
  model.destroy();
}

console.log('\ngeneration (batch 4, 8-token prompts, 32 new tokens, sampled):');
const generation: GenerationBench[] = [];
for (const name of values.presets!.split(',')) {
  const g = await benchGeneration(gpu, name);
  generation.push(g);
  console.log(
    `${name}: with KV cache ${g.cachedTokensPerSecond.toFixed(1)} tokens/s, ` +
      `recomputing every prefix ${g.uncachedTokensPerSecond.toFixed(1)} tokens/s: ${g.speedup.toFixed(1)}x`,
  );
}

if (values.json) {
  writeFileSync(values.json, JSON.stringify({ adapter: gpu.name, date: new Date().toISOString(), results, generation }, null, 2));
  console.log(`\nwrote ${values.json}`);
}
gpu.destroy();

function printPreset(r: PresetResult): void {
  console.log(
    `\n${r.preset}: ${(r.parameters / 1e6).toFixed(2)}M parameters, B=${r.batch} T=${r.seqLen}: ` +
      `forward+backward+AdamW ${r.stepMs.toFixed(1)} ms/step, ${Math.round(r.tokensPerSecond)} tokens/s`,
  );
  const rows = r.kernels.map((k) => [
    k.name,
    String(k.calls),
    k.totalMs.toFixed(3),
    k.meanUs.toFixed(1),
    `${(k.share * 100).toFixed(1)}%`,
    Number.isFinite(k.gflops) ? k.gflops.toFixed(2) : '-',
    Number.isFinite(k.gbps) ? k.gbps.toFixed(2) : '-',
  ]);
  const header = ['kernel', 'calls', 'total ms', 'mean µs', 'share', 'GFLOP/s', 'GB/s'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}
