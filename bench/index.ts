/**
 * `npm run bench` (and `webgpu-rlhf bench`): one run on one adapter, side by
 * side with TensorFlow.js's WebGPU backend in the same process on the same
 * adapter. Never part of `npm test`.
 *   1. the matmul autotune: every variant on every layout a step runs, and its pick;
 *   2. matmul at the shapes of GPT-2's layers (BT×C by C×3C, C×4C, 4C×C, and
 *      the LM head C×V): each of our variants and tf.matMul, GFLOP/s and ratio,
 *      by GPU time from timestamp queries where the adapter has them (else by
 *      wall clock with the product read back, and the output says so);
 *   3. a training step (forward, backward, optimizer) of the same GPT-2 config
 *      in our kernels and in tfjs ops with tfjs's autodiff and Adam: tokens/s
 *      and ratio, and our per-kernel profile;
 *   4. generation tokens/s with the KV cache.
 *
 *   npm run bench -- [--presets tiny,mid] [--steps 3] [--tf-steps 3] [--batch 4] [--seq-len 64]
 *                    [--matmul-preset mid] [--runs 3] [--wall-clock] [--no-tfjs] [--no-kernels] [--no-generation] [--json FILE]
 *
 * WEBGPU_RLHF_MATMUL pins the variants instead of tuning (`bcast`, or `NT=bcast,NN=vec4,TN=bcast`).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileTuningStore, matmulPinFromEnv } from '../src/cli/autotune-cache.ts';
import { formatTable } from '../src/cli/text-table.ts';
import { Rng } from '../src/data/random.ts';
import { requestGpu } from '../src/gpu/device.ts';
import type { Gpu } from '../src/gpu/gpu.ts';
import { kernelTableRows, summarizeByKernel, type KernelSummary } from '../src/gpu/profile-report.ts';
import { Profiler } from '../src/gpu/profiler.ts';
import { Recorder } from '../src/gpu/recorder.ts';
import { defaultVariant, gemm, MATMUL_VARIANTS, matmulVariantsOf, variantSupported, type MatmulVariant } from '../src/kernels/matmul.ts';
import { autotuneMatmul, type MatmulTuning } from '../src/kernels/matmul-autotune.ts';
import { parameterCount, preset, type GPTConfig } from '../src/model/config.ts';
import { GPT } from '../src/model/gpt.ts';
import { describePlan, type ShapeTuning } from '../src/kernels/matmul-tune.ts';
import { initParameters } from '../src/model/params.ts';
import { AdamW, ADAMW_DEFAULTS } from '../src/train/adamw.ts';
import { benchGeneration, type GenerationBench } from './generate.ts';
import { GpuStopwatch } from './gpu-stopwatch.ts';
import { loadTfjsWebgpu, TfjsGpt, tfMatmulRunner, type TfjsSetup } from './tfjs.ts';
import { bestRunTimes, type Clock, type RunTime, type Runner } from './timing.ts';

const USAGE = `usage: npm run bench -- [options]        (or: webgpu-rlhf bench [options])
  --presets tiny,mid     presets for the training step and generation
  --steps N              timed training steps of ours per preset (3)
  --tf-steps N           timed training steps of tfjs per preset (3)
  --batch B --seq-len T  training batch (4 x 64)
  --matmul-preset NAME   the GPT-2 config whose layer shapes the matmul table uses, at B·T rows (mid)
  --lm-head-vocab N      vocabulary columns of the LM-head matmul at most (8192; GPT-2's 50257 would take minutes)
  --runs N               timed runs per matmul (3)
  --wall-clock           time the matmul table by wall clock, the product read back each run,
                         even where the adapter has timestamp queries (the fallback where it has none)
  --no-tfjs              skip TensorFlow.js
  --no-kernels           skip our per-kernel profile tables
  --no-generation        skip the generation speed
  --json FILE            write every figure as JSON
every time is the best of its timed runs, after an untimed one that compiles; the runs
of ours and of tfjs at one shape or preset are taken in turn, so that a drift in the
machine's speed falls on both alike
clocks: the matmul table by GPU time (timestamp queries, nothing read back but the
timestamps) where the adapter has timestamp-query, else by wall clock with the product
read back; the training step by wall clock, each side reading back only its loss
environment: WEBGPU_RLHF_MATMUL=bcast (or NT=bcast,NN=vec4,TN=bcast) pins the matmul variants`;

/** How the matmul table was timed: one clock for every column, so that the ratios compare like with like. */
export interface MatmulTiming {
  clock: Clock;
  /** how our time of one matmul is taken, in words */
  ours: string;
  /** how tfjs's is taken, in words */
  tfjs?: string;
  /** why the wall clock, where it is the wall clock */
  wallClockBecause?: string;
}

export interface MatmulRow {
  shape: string;
  M: number;
  K: number;
  N: number;
  /** the clock every figure of this row was read from (see BenchReport.matmulTiming) */
  clock: Clock;
  /** milliseconds of one matmul of each of our variants by `clock`, in the forward pass's layout (weights (N,K)) */
  oursMs: Partial<Record<MatmulVariant, number>>;
  /** the same as GFLOP/s */
  ours: Partial<Record<MatmulVariant, number>>;
  /** the variant the autotune chose for that layout */
  chosen: MatmulVariant;
  /** milliseconds of one tf.matMul by `clock`, the weight stored (K,N) and stored (N,K) (transposeB) */
  tfjsMs?: { nn: number; nt: number };
  /** the same as GFLOP/s */
  tfjs?: { nn: number; nt: number };
  /** ours (the chosen variant) over tfjs's better layout, by `clock` */
  ratio?: number;
  /**
   * The same ratio by this process's CPU time (see StepRow.cpuMs); wall clock
   * only: with timestamps a run's CPU time is mostly the wait for its timestamps.
   */
  cpuRatio?: number;
}

export interface StepRow {
  preset: string;
  parameters: number;
  batch: number;
  seqLen: number;
  stepMs: number;
  tokensPerSecond: number;
  tfjsStepMs?: number;
  tfjsTokensPerSecond?: number;
  ratio?: number;
  /**
   * This process's CPU time per step (all threads). On a CPU adapter the
   * rasteriser's threads are this process's, so this is the step's cost
   * whatever else the machine runs; meaningless on a real GPU.
   */
  cpuMs: number;
  tfjsCpuMs?: number;
  kernels?: KernelSummary[];
}

export interface BenchReport {
  adapter: string;
  tfjsAdapter?: string;
  date: string;
  autotune: MatmulTuning;
  matmulTiming: MatmulTiming;
  matmul: MatmulRow[];
  training: StepRow[];
  generation: GenerationBench[];
}

export async function runBench(argv: string[]): Promise<BenchReport | undefined> {
  const { values } = parseArgs({
    args: argv.filter((a, i) => !(i === 0 && a === '--')),
    options: {
      presets: { type: 'string', default: 'tiny,mid' },
      steps: { type: 'string', default: '3' },
      'tf-steps': { type: 'string', default: '3' },
      batch: { type: 'string', default: '4' },
      'seq-len': { type: 'string', default: '64' },
      'matmul-preset': { type: 'string', default: 'mid' },
      'lm-head-vocab': { type: 'string', default: '8192' },
      runs: { type: 'string', default: '3' },
      'wall-clock': { type: 'boolean', default: false },
      'no-tfjs': { type: 'boolean', default: false },
      'no-kernels': { type: 'boolean', default: false },
      'no-generation': { type: 'boolean', default: false },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return undefined;
  }
  const presets = values.presets.split(',').filter((p) => p);
  const steps = positiveInt(values.steps, '--steps');
  const tfSteps = positiveInt(values['tf-steps'], '--tf-steps');
  const B = positiveInt(values.batch, '--batch');
  const T = positiveInt(values['seq-len'], '--seq-len');
  const runs = positiveInt(values.runs, '--runs');
  for (const p of [...presets, values['matmul-preset']]) preset(p); // fail before any work on a typo

  const gpu = await requestGpu();
  try {
    const date = new Date().toISOString();
    console.log(`adapter: ${gpu.name}`);
    let tfjs: TfjsSetup | undefined;
    if (!values['no-tfjs']) {
      tfjs = await loadTfjsWebgpu();
      console.log(`tfjs:    @tensorflow/tfjs-backend-webgpu ${tfjs.tf.version_core} on ${tfjs.adapter}`);
      if (tfjs.adapter !== gpu.name) console.log('WARNING: tfjs got a different adapter; the ratios compare unlike machines');
    }
    console.log(`date:    ${date}`);

    const autotune = await autotuneMatmul(gpu, { store: fileTuningStore(), pin: matmulPinFromEnv(), force: true });
    printAutotune(gpu, autotune);

    const matmulTiming = chooseMatmulTiming(gpu, tfjs, values['wall-clock']);
    const matmul = await benchMatmuls(
      gpu,
      tfjs,
      matmulTiming,
      preset(values['matmul-preset']),
      values['matmul-preset'],
      B * T,
      positiveInt(values['lm-head-vocab'], '--lm-head-vocab'),
      runs,
    );

    const training: StepRow[] = [];
    for (const name of presets) training.push(await benchStep(gpu, tfjs, name, B, T, steps, tfSteps, !values['no-kernels']));
    printSteps(training);
    if (!values['no-kernels']) for (const row of training) printKernels(row);

    const generation: GenerationBench[] = [];
    if (!values['no-generation']) {
      console.log('\ngeneration, ours (batch 4, 8-token prompts, 32 new tokens, sampled):');
      for (const name of presets) {
        const g = await benchGeneration(gpu, name);
        generation.push(g);
        console.log(
          `  ${name}: with the KV cache ${g.cachedTokensPerSecond.toFixed(1)} tokens/s, ` +
            `recomputing every prefix ${g.uncachedTokensPerSecond.toFixed(1)} tokens/s: ${g.speedup.toFixed(1)}x`,
        );
      }
    }

    const report: BenchReport = { adapter: gpu.name, tfjsAdapter: tfjs?.adapter, date, autotune, matmulTiming, matmul, training, generation };
    if (values.json) {
      writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
      console.log(`\nwrote ${values.json}`);
    }
    return report;
  } finally {
    gpu.destroy();
  }
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got "${text}"`);
  return n;
}

const fmt = (x: number | undefined, digits = 2) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));

function printTable(header: string[], rows: string[][]): void {
  for (const line of formatTable([header, ...rows])) console.log(line);
}

function printAutotune(gpu: Gpu, t: MatmulTuning): void {
  const { M, N, K } = t.shape;
  if (t.source === 'pinned') {
    console.log(`\nmatmul variants pinned by WEBGPU_RLHF_MATMUL: ${JSON.stringify(t.choice)}`);
    return;
  }
  console.log(`\nmatmul autotune (GFLOP/s at M=${M} N=${N} K=${K}, by the autotune's own wall clock from submit to idle queue; * = chosen, cached per adapter):`);
  const layouts = [...new Set(t.timings.map((x) => x.layout))];
  const describe: Record<string, string> = { NT: 'NT (forward)', NN: 'NN (dinp)', TN: 'TN (dweight)' };
  printTable(
    ['layout', ...MATMUL_VARIANTS],
    layouts.map((layout) => [
      describe[layout] ?? layout,
      ...MATMUL_VARIANTS.map((v) => {
        const timing = t.timings.find((x) => x.layout === layout && x.variant === v);
        return timing ? `${fmt(timing.gflops)}${t.choice[layout] === v ? '*' : ' '}` : '-';
      }),
    ]),
  );
  console.log(`untuned default here: ${defaultVariant(gpu)} on every layout; another variant is chosen where it is more than 10% faster`);
}

/**
 * The matmul table's clock: the GPU's own wherever both sides can read it,
 * else the wall clock for both (a ratio of a GPU time to a wall time would
 * compare unlike things), and why.
 */
function chooseMatmulTiming(gpu: Gpu, tfjs: TfjsSetup | undefined, wallClockAsked: boolean): MatmulTiming {
  const wallClockBecause = wallClockAsked
    ? '--wall-clock'
    : !gpu.timestamps
      ? 'the adapter has no timestamp-query'
      : tfjs && !tfjs.timestamps
        ? "tfjs's device has no timestamp-query"
        : undefined;
  if (wallClockBecause === undefined) {
    return {
      clock: 'gpu-timestamps',
      ours: 'GPU time from a timestamp before the gemm\'s first command to one after its last (its copies and every dispatch), one submission a run, only the timestamps read back',
      tfjs: tfjs ? "tf.time's kernelMs: the sum of the GPU times of the op's programs, each timestamped in a pass of its own; the product not read back" : undefined,
    };
  }
  return {
    clock: 'wall',
    ours: 'wall clock from recording the gemm to having read the product back',
    tfjs: tfjs ? 'wall clock from tf.matMul to having read the product back with .data()' : undefined,
    wallClockBecause,
  };
}

/**
 * One gemm in the forward layout (weight (N,K)). By the GPU clock a run
 * resolves to the gemm's GPU milliseconds; by the wall clock it reads C back,
 * as the tfjs runs do.
 */
function ourMatmulRunner(gpu: Gpu, M: number, N: number, K: number, variant: MatmulVariant, clock: Clock): Runner {
  const rng = new Rng(M + N + K);
  const a = gpu.createBufferFrom('bench.a', rng.fillRandn(new Float32Array(M * K), 1));
  const w = gpu.createBufferFrom('bench.w', rng.fillRandn(new Float32Array(N * K), 1));
  const c = gpu.createBuffer('bench.c', M * N * 4);
  const record = (rec: Recorder) => gemm(rec, { binding: c, ld: N }, { binding: a, ld: K }, { binding: w, ld: K, transposed: true }, M, N, K, { variant });
  const stopwatch = clock === 'gpu-timestamps' ? new GpuStopwatch(gpu) : undefined;
  return {
    run: stopwatch
      ? () => stopwatch.time(record)
      : async () => {
          const rec = new Recorder(gpu);
          record(rec);
          rec.submit();
          await gpu.readF32(c, 0, M * N);
        },
    dispose: () => {
      stopwatch?.destroy();
      a.destroy();
      w.destroy();
      c.destroy();
      gpu.clearBindGroups();
    },
  };
}

async function benchMatmuls(
  gpu: Gpu,
  tfjs: TfjsSetup | undefined,
  timing: MatmulTiming,
  config: GPTConfig,
  configName: string,
  rows: number,
  maxVocab: number,
  runs: number,
): Promise<MatmulRow[]> {
  const C = config.nEmbd;
  const V = Math.min(config.vocabSize, maxVocab);
  const shapes: [string, number, number][] = [
    ['qkv', C, 3 * C],
    ['fc', C, 4 * C],
    ['fcproj', 4 * C, C],
    ['lm head', C, V],
  ];
  const { clock } = timing;
  const chosen = matmulVariantsOf(gpu).NT ?? defaultVariant(gpu);
  const gflops = (M: number, N: number, K: number, ms: number) => (2 * M * N * K) / (ms * 1e6);
  // The time of a run by the table's clock.
  const msOf = (t: RunTime) => (clock === 'gpu-timestamps' ? (t.gpuMs ?? NaN) : t.ms);
  const result: MatmulRow[] = [];
  for (const [shape, K, N] of shapes) {
    const M = rows;
    // Every variant and tfjs's two layouts, their timed runs taken in turn.
    const variants = MATMUL_VARIANTS.filter((v) => variantSupported(gpu, v));
    const runners = [
      ...variants.map((v) => ourMatmulRunner(gpu, M, N, K, v, clock)),
      ...(tfjs ? [tfMatmulRunner(tfjs.tf, M, N, K, false, clock), tfMatmulRunner(tfjs.tf, M, N, K, true, clock)] : []),
    ];
    let times;
    try {
      times = await bestRunTimes(runners.map((r) => ({ run: r.run, runs })));
    } finally {
      for (const r of runners) r.dispose();
    }
    const oursMs: MatmulRow['oursMs'] = {};
    const ours: MatmulRow['ours'] = {};
    variants.forEach((v, i) => {
      oursMs[v] = msOf(times[i]!);
      ours[v] = gflops(M, N, K, oursMs[v]);
    });
    const row: MatmulRow = { shape, M, K, N, clock, oursMs, ours, chosen };
    if (tfjs) {
      const [nn, nt] = times.slice(variants.length) as [RunTime, RunTime];
      row.tfjsMs = { nn: msOf(nn), nt: msOf(nt) };
      row.tfjs = { nn: gflops(M, N, K, row.tfjsMs.nn), nt: gflops(M, N, K, row.tfjsMs.nt) };
      const chosenTime = times[variants.indexOf(chosen)];
      if (chosenTime) {
        row.ratio = ours[chosen]! / Math.max(row.tfjs.nn, row.tfjs.nt);
        if (clock === 'wall') row.cpuRatio = Math.min(nn.cpuMs, nt.cpuMs) / chosenTime.cpuMs;
      }
    }
    result.push(row);
  }
  printMatmuls(result, timing, configName, rows);
  return result;
}

function printMatmuls(rows: MatmulRow[], timing: MatmulTiming, configName: string, rowCount: number): void {
  const byGpu = timing.clock === 'gpu-timestamps';
  // Every column of times names its clock.
  const clockLabel = byGpu ? 'GPU' : 'wall';
  console.log(
    `\nmatmul at ${configName}'s layer shapes, ${rowCount} rows (B·T), GFLOP/s by ${byGpu ? 'GPU time (timestamp queries)' : 'WALL CLOCK'} ` +
      `(ours in the forward pass's layout, weight (N,K); tfjs with the weight (K,N) and (N,K); * = autotune's choice; ratio = chosen / tfjs's better):`,
  );
  if (!byGpu) console.log(`  wall clock because ${timing.wallClockBecause}: every run reads the whole product back, so on a discrete GPU these include the transfer`);
  console.log(`  ours: ${timing.ours}`);
  if (timing.tfjs) console.log(`  tfjs: ${timing.tfjs}`);
  printTable(
    [
      'shape',
      'M×K · K×N',
      ...MATMUL_VARIANTS.map((v) => `${v} ${clockLabel}`),
      `tfjs ${clockLabel}`,
      `tfjs (N,K) ${clockLabel}`,
      `ratio ${clockLabel}`,
      ...(byGpu ? [] : ['CPU ratio']),
    ],
    rows.map((r) => [
      r.shape,
      `${r.M}×${r.K} · ${r.K}×${r.N}`,
      ...MATMUL_VARIANTS.map((v) => `${fmt(r.ours[v])}${v === r.chosen ? '*' : ' '}`),
      fmt(r.tfjs?.nn),
      fmt(r.tfjs?.nt),
      r.ratio === undefined ? '-' : `${fmt(r.ratio, 1)}×`,
      ...(byGpu ? [] : [r.cpuRatio === undefined ? '-' : `${fmt(r.cpuRatio, 1)}×`]),
    ]),
  );
  if (!byGpu) console.log("(CPU ratio: tfjs's CPU time per matmul over ours, this process, all threads)");
}

/** Our training step and tfjs's, their timed steps taken in turn; then one profiled step of ours. */
async function benchStep(
  gpu: Gpu,
  tfjs: TfjsSetup | undefined,
  name: string,
  B: number,
  T: number,
  steps: number,
  tfSteps: number,
  profile: boolean,
): Promise<StepRow> {
  const config = preset(name);
  const model = new GPT(gpu, config, B, T);
  model.setParameters(initParameters(config, 1));
  const optimizer = new AdamW(gpu, model.params, ADAMW_DEFAULTS);
  const { tokens, targets } = batchOf(config, B, T);
  const tfModel = tfjs ? new TfjsGpt(tfjs.tf, config, B, T) : undefined;
  try {
    // The blocked matmul's plan per shape of this step, as a training command tunes it (GPUs only).
    const tuning = await model.tuneMatmuls({ store: fileTuningStore() });
    printShapeTuning(name, tuning);
    // Both compile in their untimed first step. Wall clock per step: each side
    // records the whole step, submits it and reads back only its loss (ours
    // 12 bytes, loss and gradient norm, copied in the step's own encoder;
    // tfjs's one scalar), as a training loop must to log it; no parameters,
    // gradients or activations come back.
    const [ours, theirs] = await bestRunTimes([
      { run: async () => void (await model.trainStep({ tokens, targets }, optimizer)), runs: steps },
      ...(tfModel ? [{ run: async () => void (await tfModel.trainStep(tokens, targets)), runs: tfSteps }] : []),
    ]);
    const row: StepRow = {
      preset: name,
      parameters: parameterCount(config),
      batch: B,
      seqLen: T,
      stepMs: ours!.ms,
      tokensPerSecond: (B * T) / (ours!.ms / 1000),
      cpuMs: ours!.cpuMs,
    };
    if (theirs) {
      row.tfjsStepMs = theirs.ms;
      row.tfjsCpuMs = theirs.cpuMs;
      row.tfjsTokensPerSecond = (B * T) / (theirs.ms / 1000);
      row.ratio = theirs.ms / ours!.ms;
    }
    if (profile && gpu.timestamps) {
      // One more step with a pass per dispatch and timestamps around each.
      const profiler = new Profiler(gpu);
      await model.trainStep({ tokens, targets }, optimizer, profiler);
      row.kernels = summarizeByKernel(await profiler.collect());
    }
    return row;
  } finally {
    tfModel?.dispose();
    optimizer.destroy();
    model.destroy();
  }
}

function batchOf(config: GPTConfig, B: number, T: number): { tokens: Int32Array; targets: Int32Array } {
  const rng = new Rng(1);
  return {
    tokens: rng.fillInt(new Int32Array(B * T), config.vocabSize),
    targets: rng.fillInt(new Int32Array(B * T), config.vocabSize),
  };
}

function printSteps(rows: StepRow[]): void {
  console.log(
    `\ntraining step (forward, backward, optimizer; ours AdamW, tfjs Adam), B=${rows[0]?.batch} T=${rows[0]?.seqLen}, ` +
      'ms by wall clock per step, the loss read back:',
  );
  printTable(
    ['preset', 'parameters', 'ours wall ms', 'ours tokens/s', 'tfjs wall ms', 'tfjs tokens/s', 'ratio', 'CPU ms ours', 'CPU ms tfjs', 'CPU ratio'],
    rows.map((r) => [
      r.preset,
      `${(r.parameters / 1e6).toFixed(2)}M`,
      fmt(r.stepMs, 1),
      fmt(r.tokensPerSecond, 0),
      fmt(r.tfjsStepMs, 1),
      fmt(r.tfjsTokensPerSecond, 0),
      r.ratio === undefined ? '-' : `${fmt(r.ratio, 1)}×`,
      fmt(r.cpuMs, 0),
      fmt(r.tfjsCpuMs, 0),
      r.tfjsCpuMs === undefined ? '-' : `${fmt(r.tfjsCpuMs / r.cpuMs, 1)}×`,
    ]),
  );
  console.log('(CPU ms: this process\'s CPU time per step, all threads; on a CPU adapter it does not depend on what else the machine runs)');
}

function printShapeTuning(presetName: string, tunings: readonly ShapeTuning[]): void {
  if (tunings.length === 0) return;
  console.log(`\nblocked matmul plans at ${presetName}'s step shapes (GFLOP/s by GPU time; * = chosen${tunings.some((t) => t.source === 'cache') ? '; cached plans are not re-measured' : ''}):`);
  printTable(
    ['layout', 'M×N×K', 'chosen', 'GFLOP/s', 'other plans'],
    tunings.map((t) => {
      const chosen = t.timings.find((x) => describePlan(x.plan) === describePlan(t.plan));
      const others = t.timings.filter((x) => x !== chosen).map((x) => `${describePlan(x.plan)} ${fmt(x.gflops, 0)}`);
      return [t.shape.layout, `${t.shape.M}×${t.shape.N}×${t.shape.K}${t.shape.count > 1 ? ` ×${t.shape.count}` : ''}`, describePlan(t.plan), fmt(chosen?.gflops, 0), others.join(', ') || t.source];
    }),
  );
}

function printKernels(r: StepRow): void {
  if (!r.kernels) return;
  console.log(`\nours, ${r.preset}: GPU time per kernel over one profiled step (a pass per dispatch):`);
  for (const line of formatTable(kernelTableRows(r.kernels))) console.log(line);
}
