/**
 * Picks the matmul variant per adapter: times every variant on each operand
 * layout the model uses and keeps the fastest, once per adapter, remembered in
 * a store the caller provides (memory, localStorage in a browser, a file in
 * Node: src/cli/autotune-cache.ts). A pinned choice skips the measuring.
 * Without a call to autotuneMatmul, gemm runs its deterministic default, which
 * is what the tests rely on.
 */
import {
  defaultVariant,
  gemm,
  layoutOf,
  MATMUL_VARIANTS,
  setMatmulVariants,
  variantEligible,
  variantSupported,
  type MatmulLayout,
  type MatmulVariant,
  type MatmulVariantChoice,
  type Operand,
} from './matmul.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { Profiler } from '../gpu/profiler.ts';
import { Recorder } from '../gpu/recorder.ts';

/** Where tuning results live between runs. Values are JSON strings. */
export interface TuningStore {
  get(key: string): string | null | undefined | Promise<string | null | undefined>;
  set(key: string, value: string): void | Promise<void>;
}

export function memoryTuningStore(): TuningStore {
  const values = new Map<string, string>();
  return { get: (key) => values.get(key), set: (key, value) => void values.set(key, value) };
}

/** The browser's localStorage, or null where there is none. */
export function localStorageTuningStore(prefix = 'webgpu-rlhf:'): TuningStore | null {
  const storage = (globalThis as { localStorage?: Storage }).localStorage;
  if (!storage) return null;
  return { get: (key) => storage.getItem(prefix + key), set: (key, value) => storage.setItem(prefix + key, value) };
}

/** The layouts a GPT step runs: forward (NT), dinp (NN), dweight (TN). */
export const TUNED_LAYOUTS: readonly MatmulLayout[] = ['NT', 'NN', 'TN'];

export interface MatmulShape {
  M: number;
  N: number;
  K: number;
}

/** A GPT-2 layer's shape at small scale: 256 rows of 256 channels times a 3C-wide weight. */
export const DEFAULT_TUNING_SHAPE: MatmulShape = { M: 256, N: 768, K: 256 };
/**
 * On a GPU, GPT-2's qkv product at B·T = 2048: a GPU runs the small shape
 * launch-bound in every variant (85 GFLOP/s each on an H200), so a choice
 * made there would be noise.
 */
export const GPU_TUNING_SHAPE: MatmulShape = { M: 2048, N: 2304, K: 768 };

export function defaultTuningShape(gpu: Gpu): MatmulShape {
  return gpu.cpu ? DEFAULT_TUNING_SHAPE : GPU_TUNING_SHAPE;
}

export interface VariantTiming {
  layout: MatmulLayout;
  variant: MatmulVariant;
  /** best of the timed runs: GPU time by timestamps where the adapter has them, else wall clock from submit to done */
  ms: number;
  gflops: number;
}

export interface MatmulTuning {
  adapter: string;
  /** bumped when kernels change, so older cached choices are ignored */
  version: number;
  shape: MatmulShape;
  choice: MatmulVariantChoice;
  /** empty when pinned */
  timings: VariantTiming[];
  source: 'measured' | 'cache' | 'pinned';
  date: string;
}

export interface AutotuneOptions {
  store?: TuningStore;
  /** skip measuring: one variant for every layout, or one per layout */
  pin?: MatmulVariant | MatmulVariantChoice;
  /** measure even when the store has a result (and store the new one) */
  force?: boolean;
  shape?: MatmulShape;
  /** timed runs per variant and layout (the best counts), after one untimed run that compiles */
  runs?: number;
  variants?: readonly MatmulVariant[];
  /**
   * Keep the device's default variant (defaultVariant: `uniform` on lavapipe,
   * else `vec4`) unless another is faster by more than this fraction (0.1):
   * timing noise alone then does not flip the choice.
   */
  margin?: number;
}

const TUNING_VERSION = 4;

export function tuningKey(adapter: string, shape: MatmulShape): string {
  return `matmul-v${TUNING_VERSION}:${adapter}:${shape.M}x${shape.N}x${shape.K}`;
}

/**
 * Choose (measure, or read from the store, or take the pin) and apply the
 * matmul variants for this device; returns what was chosen and why.
 */
export async function autotuneMatmul(gpu: Gpu, options: AutotuneOptions = {}): Promise<MatmulTuning> {
  const shape = options.shape ?? defaultTuningShape(gpu);
  const date = new Date().toISOString();
  if (options.pin) {
    const choice =
      typeof options.pin === 'string' ? Object.fromEntries(TUNED_LAYOUTS.map((l) => [l, options.pin])) : { ...options.pin };
    setMatmulVariants(gpu, choice);
    return { adapter: gpu.name, version: TUNING_VERSION, shape, choice, timings: [], source: 'pinned', date };
  }
  const key = tuningKey(gpu.name, shape);
  if (options.store && !options.force) {
    const cached = await options.store.get(key);
    const tuning = cached ? parseTuning(cached) : null;
    if (tuning) {
      setMatmulVariants(gpu, tuning.choice);
      return { ...tuning, source: 'cache' };
    }
  }
  const timings = await timeVariants(gpu, shape, options.variants ?? MATMUL_VARIANTS, options.runs ?? 3);
  const margin = options.margin ?? 0.1;
  const choice: MatmulVariantChoice = {};
  for (const layout of TUNED_LAYOUTS) {
    const measured = timings.filter((t) => t.layout === layout);
    const best = [...measured].sort((x, y) => x.ms - y.ms)[0];
    const fallback = measured.find((t) => t.variant === defaultVariant(gpu));
    if (best) choice[layout] = fallback && fallback.ms <= best.ms * (1 + margin) ? fallback.variant : best.variant;
  }
  const tuning: MatmulTuning = { adapter: gpu.name, version: TUNING_VERSION, shape, choice, timings, source: 'measured', date };
  setMatmulVariants(gpu, choice);
  await options.store?.set(key, JSON.stringify(tuning));
  return tuning;
}

function parseTuning(text: string): MatmulTuning | null {
  try {
    const t = JSON.parse(text) as MatmulTuning;
    const known = new Set<string>(MATMUL_VARIANTS);
    if (t.version !== TUNING_VERSION || !t.choice || !Object.values(t.choice).every((v) => known.has(v))) return null;
    return t;
  } catch {
    return null; // a damaged cache entry is measured again
  }
}

/**
 * `bcast`, or `NT=bcast,NN=vec4,TN=bcast`: a pin as people write it in an
 * environment variable or a config file. Throws on an unknown name.
 */
export function parseMatmulPin(text: string): MatmulVariant | MatmulVariantChoice {
  const known = new Set<string>(MATMUL_VARIANTS);
  const check = (v: string) => {
    if (!known.has(v)) throw new Error(`unknown matmul variant "${v}"; choose one of: ${MATMUL_VARIANTS.join(', ')}`);
    return v as MatmulVariant;
  };
  if (!text.includes('=')) return check(text.trim());
  const choice: MatmulVariantChoice = {};
  for (const part of text.split(',')) {
    const [layout, variant] = part.split('=').map((s) => s.trim());
    if (!['NN', 'NT', 'TN', 'TT'].includes(layout!)) throw new Error(`unknown matmul layout "${layout}" (NN, NT, TN or TT)`);
    choice[layout as MatmulLayout] = check(variant ?? '');
  }
  return choice;
}

/**
 * The time of each variant on each layout at one shape (best of `runs`): on a
 * GPU with timestamp queries the GPU time of its dispatches (submission and
 * readback would swamp a fast kernel), else wall clock from submit to done.
 */
export async function timeVariants(
  gpu: Gpu,
  shape: MatmulShape,
  variants: readonly MatmulVariant[],
  runs: number,
): Promise<VariantTiming[]> {
  const { M, N, K } = shape;
  // Contents do not matter for timing; zeros keep the buffers cheap to make.
  const a = gpu.createBuffer('autotune.a', M * K * 4);
  const b = gpu.createBuffer('autotune.b', K * N * 4);
  const c = gpu.createBuffer('autotune.c', M * N * 4);
  const timings: VariantTiming[] = [];
  const byTimestamps = gpu.timestamps && !gpu.cpu;
  try {
    for (const layout of TUNED_LAYOUTS) {
      const ta = layout[0] === 'T';
      const tb = layout[1] === 'T';
      const aOp: Operand = { binding: a, ld: ta ? M : K, transposed: ta };
      const bOp: Operand = { binding: b, ld: tb ? K : N, transposed: tb };
      for (const variant of variants) {
        if (!variantSupported(gpu, variant) || !variantEligible(variant, aOp, bOp)) continue;
        // The uniform variant's panel copies run outside any dispatch, where
        // timestamps around dispatches cannot see them.
        if (byTimestamps && variant === 'uniform') continue;
        const once = async () => {
          const profiler = byTimestamps ? new Profiler(gpu) : undefined;
          const rec = new Recorder(gpu, profiler);
          gemm(rec, { binding: c, ld: N }, aOp, bOp, M, N, K, { variant, accumulate: layoutOf(aOp, bOp) === 'TN' });
          const start = performance.now();
          rec.submit();
          if (profiler) return (await profiler.collect()).reduce((sum, d) => sum + d.durationNs, 0) / 1e6;
          await gpu.idle();
          return performance.now() - start;
        };
        await once(); // compiles the pipeline
        let best = Infinity;
        for (let r = 0; r < runs; r++) best = Math.min(best, await once());
        timings.push({ layout, variant, ms: best, gflops: (2 * M * N * K) / (best * 1e6) });
      }
    }
  } finally {
    a.destroy();
    b.destroy();
    c.destroy();
    gpu.clearBindGroups();
  }
  return timings;
}
