/**
 * The blocked matmul's plan (tile and split-K) per product shape, measured at
 * the shapes a step really runs. A GPU runs a small product launch-bound in
 * every tile, so one tuning shape says little about the others: the 36 blocks
 * of 128 x 128 of GPT-2's attention projection leave most of an H200 idle,
 * where its LM head has thousands.
 *
 * How: `watchBlockedShapes` makes gemm note every blocked product it records
 * without a chosen plan (layout, M, N, K, batch); a caller records a step
 * into a Recorder it never submits (nothing runs), then `tuneBlockedShapes`
 * times every plan on each noted shape with GPU timestamps (wall clock where
 * the adapter has none) and keeps the fastest, remembered per adapter and
 * shape in a TuningStore.
 *
 * Tiles do not change the arithmetic: every element of C is one accumulator
 * summed over k in ascending order. Split-K does (partial sums added in
 * slice order), so results depend on the plan, which the store keeps fixed
 * per adapter between runs.
 */
import type { Gpu } from '../gpu/gpu.ts';
import { Profiler } from '../gpu/profiler.ts';
import { Recorder } from '../gpu/recorder.ts';
import {
  BLOCKED_TILES,
  blockedPlanFor,
  blockedShapeKey,
  blockedTileFits,
  gemm,
  setBlockedPlan,
  watchBlockedShapes,
  type BlockedPlan,
  type ObservedShape,
} from './matmul.ts';
import type { TuningStore } from './matmul-autotune.ts';

export interface PlanTiming {
  plan: BlockedPlan;
  /** best of the timed runs: GPU time of the product's dispatches (wall clock without timestamps) */
  ms: number;
  gflops: number;
}

export interface ShapeTuning {
  key: string;
  shape: ObservedShape;
  plan: BlockedPlan;
  source: 'measured' | 'cache';
  /** every plan measured (empty from the cache) */
  timings: PlanTiming[];
}

export interface ShapeTuningOptions {
  store?: TuningStore;
  /** timed runs per plan, after one that compiles */
  runs?: number;
}

/** Per device, the store of tuned plans when models should tune the shapes they run (see enableShapeTuning). */
const shapeTuningStores = new WeakMap<Gpu, TuningStore>();

/**
 * Models on this device tune the blocked products of their training step the
 * first time they record one (GPT.trainStep), remembering plans in `store`.
 * Off by default: tests and libraries get gemm's fixed heuristic.
 */
export function enableShapeTuning(gpu: Gpu, store: TuningStore): void {
  shapeTuningStores.set(gpu, store);
}

export function shapeTuningStore(gpu: Gpu): TuningStore | undefined {
  return shapeTuningStores.get(gpu);
}

/** Bumped when the blocked kernel changes, so older cached plans are measured again. */
const PLAN_VERSION = 1;

/** Split-K slice counts tried on one product (those leaving slices of at least 256 values of k). */
const SPLITS = [1, 2, 4, 8];
const MIN_SLICE = 256;

function storeKey(gpu: Gpu, key: string): string {
  return `matmul-blocked-v${PLAN_VERSION}:${gpu.name}:${key}`;
}

/** The plans worth timing on a shape: every tile the device holds, each with the split-K counts that leave long slices. */
export function candidatePlans(gpu: Gpu, shape: ObservedShape): BlockedPlan[] {
  const plans: BlockedPlan[] = [];
  for (const tile of BLOCKED_TILES.filter((t) => blockedTileFits(gpu, t))) {
    for (const splits of SPLITS) {
      if (splits > 1 && (shape.count > 1 || shape.K < splits * MIN_SLICE)) continue;
      plans.push({ tile, splits });
    }
  }
  return plans;
}

/**
 * Records `step` into a recorder that is never submitted (so nothing runs)
 * to learn the blocked products it would run, then tunes those (see
 * tuneBlockedShapes). Returns the shapes' tunings.
 */
export async function tuneBlockedStep(gpu: Gpu, step: (rec: Recorder) => void, options: ShapeTuningOptions = {}): Promise<ShapeTuning[]> {
  const shapes = watchBlockedShapes(gpu, () => step(new Recorder(gpu)));
  return tuneBlockedShapes(gpu, shapes, options);
}

/** For each shape: the cached plan, else the fastest measured one; applied to gemm on this device. */
export async function tuneBlockedShapes(gpu: Gpu, shapes: readonly ObservedShape[], options: ShapeTuningOptions = {}): Promise<ShapeTuning[]> {
  const result: ShapeTuning[] = [];
  for (const shape of shapes) {
    const key = blockedShapeKey(shape.layout, shape.M, shape.N, shape.K, shape.count);
    const cached = await options.store?.get(storeKey(gpu, key));
    const plan = cached ? parsePlan(gpu, cached) : null;
    if (plan) {
      setBlockedPlan(gpu, key, plan);
      result.push({ key, shape, plan, source: 'cache', timings: [] });
      continue;
    }
    const timings = await timePlans(gpu, shape, candidatePlans(gpu, shape), options.runs ?? 3);
    const best = [...timings].sort((x, y) => x.ms - y.ms)[0];
    const chosen = best?.plan ?? blockedPlanFor(gpu, shape.layout, shape.M, shape.N, shape.K, shape.count);
    setBlockedPlan(gpu, key, chosen);
    await options.store?.set(storeKey(gpu, key), JSON.stringify(chosen));
    result.push({ key, shape, plan: chosen, source: 'measured', timings });
  }
  return result;
}

function parsePlan(gpu: Gpu, text: string): BlockedPlan | null {
  try {
    const plan = JSON.parse(text) as BlockedPlan;
    const known = BLOCKED_TILES.some((t) => t.wgX === plan.tile?.wgX && t.wgY === plan.tile?.wgY && t.bk === plan.tile?.bk);
    if (!known || !blockedTileFits(gpu, plan.tile) || !Number.isInteger(plan.splits) || plan.splits < 1) return null;
    return plan;
  } catch {
    return null; // a damaged entry is measured again
  }
}

/** Each plan's best time on the shape, with zero-filled operands laid out as the shape's layout says. */
async function timePlans(gpu: Gpu, shape: ObservedShape, plans: readonly BlockedPlan[], runs: number): Promise<PlanTiming[]> {
  const { layout, M, N, K, count } = shape;
  const [ta, tb] = [layout[0] === 'T', layout[1] === 'T'];
  const a = gpu.createBuffer('tune.a', count * M * K * 4);
  const b = gpu.createBuffer('tune.b', count * K * N * 4);
  const c = gpu.createBuffer('tune.c', count * M * N * 4);
  const bias = shape.bias ? gpu.createBuffer('tune.bias', N * 4) : null;
  const geluOut = shape.gelu ? gpu.createBuffer('tune.gelu', count * M * N * 4) : null;
  const timings: PlanTiming[] = [];
  try {
    for (const plan of plans) {
      const once = async (): Promise<number> => {
        const profiler = gpu.timestamps ? new Profiler(gpu) : undefined;
        const rec = new Recorder(gpu, profiler);
        gemm(
          rec,
          { binding: c, ld: N, stride: [0, M * N] },
          { binding: a, ld: ta ? M : K, transposed: ta, stride: [0, M * K] },
          { binding: b, ld: tb ? K : N, transposed: tb, stride: [0, K * N] },
          M,
          N,
          K,
          { variant: 'blocked', blocked: plan, accumulate: shape.accumulate, bias, geluOut, batch: count > 1 ? { count } : undefined },
        );
        const start = performance.now();
        rec.submit();
        if (!profiler) {
          await gpu.idle();
          return performance.now() - start;
        }
        const dispatches = await profiler.collect();
        return dispatches.reduce((sum, d) => sum + d.durationNs, 0) / 1e6;
      };
      await once(); // compiles the pipelines
      let best = Infinity;
      for (let r = 0; r < runs; r++) best = Math.min(best, await once());
      if (Number.isFinite(best)) timings.push({ plan, ms: best, gflops: (2 * M * N * K * count) / (best * 1e6) });
    }
  } finally {
    for (const buffer of [a, b, c, bias, geluOut]) buffer?.destroy();
    gpu.clearBindGroups();
  }
  return timings;
}

/** A plan as people read it: `128x128 tile, K in 4 slices`. */
export function describePlan(plan: BlockedPlan): string {
  const tile = `${8 * plan.tile.wgY}x${8 * plan.tile.wgX}`;
  return plan.splits > 1 ? `${tile}, K in ${plan.splits} slices` : tile;
}
