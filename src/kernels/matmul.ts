/**
 * Matrix multiply. `gemm` is the general strided form; the linear-layer
 * launchers below are what the model calls. Weights are stored (N,K) (PyTorch
 * Linear layout; Hugging Face's Conv1D (K,N) is transposed at load time).
 * Parameter gradients accumulate (dweight +=, dbias +=), activation gradients
 * assign (dinp =).
 */
import { bufferOf, type Binding } from '../gpu/buffers.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { matmulBackwardBiasBlocked } from './matmul-bias.ts';
import { reductionVariant, type ReductionVariant } from './reduction.ts';

const TILE = 4;
const WG = 8;
/** matmul_bcast: lanes per workgroup, columns per lane, rows per workgroup */
const BCAST_WG = 64;
const BCAST_COLS = 4;
const BCAST_ROWS = 8;
/** matmul_tiled: rows and columns of C per workgroup */
const TILED_BLOCK = 64;
/** matmul_subgroup: rows and columns of C per workgroup, and the subgroup size it needs */
const SUBGROUP_ROWS = 16;
const SUBGROUP_LANES = 64;
const SUBGROUP_SPAN = 8;
/** matmul_subgroup_wide: rows and columns of C per workgroup */
const SUBGROUP_WIDE_ROWS = 32;
const SUBGROUP_WIDE_COLS = 4 * SUBGROUP_LANES;
/**
 * matmul_uniform (shaders/matmul_uniform.wgsl): rows of an A panel and columns
 * of a B panel, k values per 64 KB window, window pairs per dispatch, rows of C
 * per workgroup, k values per workgroup of matmul_pack
 */
const UNIFORM_PANEL = 256;
const UNIFORM_WINDOW_K = 64;
const UNIFORM_WINDOWS = 5;
const UNIFORM_ROWS = 32;
const UNIFORM_PACK_K = 8;
const UNIFORM_WINDOW_BYTES = UNIFORM_WINDOW_K * UNIFORM_PANEL * 4;

/**
 * matmul_blocked (shaders/matmul_blocked.wgsl): threads of a workgroup along N
 * and M (8 x 8 outputs each, so a block of C of 8 wgX x 8 wgY) and the depth
 * of the staged panels.
 */
export interface BlockedTile {
  wgX: number;
  wgY: number;
  bk: number;
}
/** The tiles gemm chooses from, largest first: 128 x 128, 128 rows x 64 columns, 64 x 64. */
export const BLOCKED_TILES: readonly BlockedTile[] = [
  { wgX: 16, wgY: 16, bk: 16 },
  { wgX: 8, wgY: 16, bk: 16 },
  { wgX: 8, wgY: 8, bk: 16 },
];
/**
 * Workgroups a product should at least spread over before a larger tile is
 * taken: a GPU with ~100 multiprocessors idles most of them on fewer (the
 * 36 blocks of 128 x 128 of GPT-2's attention projection).
 */
const BLOCKED_MIN_GROUPS = 256;

/** Whether n fills at least 3/4 of the blocks that cover it. */
function fills(n: number, block: number): boolean {
  return n / (Math.ceil(n / block) * block) >= 0.75;
}

/**
 * How the subgroup variant covers C: matmul_subgroup_wide's 32 x 256 blocks
 * where C fills at least 3/4 of them (20-25% faster on lavapipe), else
 * matmul_subgroup with 1 column a lane, 2 once C is wide enough to keep 64
 * lanes busy, and fewer lanes (a multiple of 8) where that leaves fewer idle:
 * attention's per-head products of 32 columns take 32 lanes (1.75x faster than
 * 64), an LM head of 257 columns three workgroups of 48 (28% faster).
 */
export function subgroupTiling(M: number, N: number): { entry: string; rows: number; cols: number; lanes: number } {
  if (fills(M, SUBGROUP_WIDE_ROWS) && fills(N, SUBGROUP_WIDE_COLS)) {
    return { entry: 'matmul_subgroup_wide', rows: SUBGROUP_WIDE_ROWS, cols: SUBGROUP_WIDE_COLS, lanes: SUBGROUP_LANES };
  }
  const perLane = N >= 2 * SUBGROUP_LANES ? 2 : 1;
  // As few workgroups across as 64 lanes need, each as narrow as covers C.
  const across = Math.ceil(N / (SUBGROUP_LANES * perLane));
  const lanes = Math.min(SUBGROUP_LANES, Math.ceil(N / perLane / across / SUBGROUP_SPAN) * SUBGROUP_SPAN);
  return { entry: 'matmul_subgroup', rows: SUBGROUP_ROWS, cols: lanes * perLane, lanes };
}

/** One operand: a binding and how to address it. */
export interface Operand {
  binding: Binding;
  /** row stride of the matrix as stored */
  ld: number;
  /** element offset of (0,0) within the binding */
  offset?: number;
  /** stored transposed: A as (K,M), B as (N,K) */
  transposed?: boolean;
  /**
   * In a batched gemm, element strides between products: product
   * z = outer * inner count + inner starts outer * stride[0] + inner * stride[1]
   * past `offset`. [0, 0] (the default) shares the operand across products.
   */
  stride?: readonly [outer: number, inner: number];
}

/** Several products of the same shape in one dispatch (attention's per-head matmuls). */
export interface GemmBatch {
  /** products */
  count: number;
  /** products per outer index (say heads per sequence), so that z = outer * inner + inner index; default count */
  inner?: number;
}

export interface GemmOptions {
  /** C += A B instead of C = A B */
  accumulate?: boolean;
  /** (N) added to every row of the product */
  bias?: Binding | null;
  /** name in profiles */
  name?: string;
  /** also write gelu(C) here, addressed like C (the MLP's fused activation) */
  geluOut?: Binding | null;
  /**
   * Kernel variant. By default the one chosen for this device and layout by
   * setMatmulVariants (the autotune), else the device's defaultVariant; where
   * the operands do not allow the choice or the shape does not suit it, `vec4`
   * and then `scalar`.
   */
  variant?: MatmulVariant;
  /** run `count` products, strided per operand by Operand.stride */
  batch?: GemmBatch;
  /** the blocked variant's tile and split-K; by default the plan chosen for the shape (see blockedPlanFor) */
  blocked?: BlockedPlan;
}

/**
 * See shaders/matmul.wgsl for what each variant is good at; `subgroup` is in
 * shaders/matmul_subgroup.wgsl and `uniform` in shaders/matmul_uniform.wgsl,
 * both for lavapipe, both needing the device's `subgroups` feature.
 */
export const MATMUL_VARIANTS = ['scalar', 'vec4', 'bcast', 'tiled', 'subgroup', 'uniform', 'blocked'] as const;
export type MatmulVariant = (typeof MATMUL_VARIANTS)[number];

/** Which operands are stored transposed: A then B, N (as is) or T. */
export type MatmulLayout = 'NN' | 'NT' | 'TN' | 'TT';
export const MATMUL_LAYOUTS: readonly MatmulLayout[] = ['NN', 'NT', 'TN', 'TT'];

export type MatmulVariantChoice = Partial<Record<MatmulLayout, MatmulVariant>>;

/** The shader file and entry point of each variant. */
const KERNELS: Record<MatmulVariant, [string, string]> = {
  scalar: ['matmul', 'matmul'],
  vec4: ['matmul', 'matmul_vec4'],
  bcast: ['matmul', 'matmul_bcast'],
  tiled: ['matmul', 'matmul_tiled'],
  subgroup: ['matmul_subgroup', 'matmul_subgroup'],
  uniform: ['matmul_uniform', 'matmul_uniform'],
  blocked: ['matmul_blocked', 'matmul_blocked'],
};

// Per device rather than on Gpu, so that the choice stays a concern of this kernel.
const chosenVariants = new WeakMap<Gpu, MatmulVariantChoice>();

/** Use these variants for gemms on this device that do not name one (see matmul-autotune.ts). */
export function setMatmulVariants(gpu: Gpu, choice: MatmulVariantChoice): void {
  chosenVariants.set(gpu, { ...choice });
}

export function matmulVariantsOf(gpu: Gpu): MatmulVariantChoice {
  return { ...chosenVariants.get(gpu) };
}

export function layoutOf(a: Operand, b: Operand): MatmulLayout {
  return `${a.transposed ? 'T' : 'N'}${b.transposed ? 'T' : 'N'}` as MatmulLayout;
}

function bindingOffset(b: Binding): number {
  return 'buffer' in b ? b.offset : 0;
}

function vec4Addressable(o: Operand): boolean {
  const [outer, inner] = o.stride ?? [0, 0];
  return o.ld % 4 === 0 && (o.offset ?? 0) % 4 === 0 && outer % 4 === 0 && inner % 4 === 0 && bindingOffset(o.binding) % 16 === 0;
}

/**
 * matmul_vec4 reads each operand as vec4s along its contiguous dimension, so
 * that dimension's stride and the element offsets must be multiples of 4 and
 * the bindings 16-byte aligned.
 */
export function vec4Eligible(a: Operand, b: Operand): boolean {
  return vec4Addressable(a) && vec4Addressable(b);
}

/** Whether the device can run a variant at all: subgroup and uniform need subgroups of at least 8. */
export function variantSupported(gpu: Gpu, variant: MatmulVariant): boolean {
  if (variant === 'blocked') return BLOCKED_TILES.some((t) => blockedTileFits(gpu, t));
  return (variant !== 'subgroup' && variant !== 'uniform') || gpu.subgroupMinSize >= SUBGROUP_SPAN;
}

/** Bytes of workgroup memory a blocked tile stages its panels in (one vec4 of padding per k row). */
function blockedTileBytes(t: BlockedTile): number {
  return t.bk * (2 * t.wgX + 1 + 2 * t.wgY + 1) * 16;
}

/** Whether this device's workgroups can hold the tile (threads and workgroup memory). */
export function blockedTileFits(gpu: Gpu, t: BlockedTile): boolean {
  const limits = gpu.device.limits;
  return t.wgX * t.wgY <= limits.maxComputeInvocationsPerWorkgroup && blockedTileBytes(t) <= limits.maxComputeWorkgroupStorageSize;
}

/**
 * How the blocked variant runs one product: its tile, and the slices K is
 * split into (split-K: each slice's partial product computed by its own
 * workgroups, then summed in order by matmul_blocked_combine), which spreads
 * a small C with a long K (weight gradients, K = B·T) over more workgroups.
 */
export interface BlockedPlan {
  tile: BlockedTile;
  splits: number;
}

/** Per device, the plan chosen for a product's layout and shape by the autotune (key: blockedShapeKey). */
const chosenPlans = new WeakMap<Gpu, Map<string, BlockedPlan>>();

export function blockedShapeKey(layout: MatmulLayout, M: number, N: number, K: number, count = 1): string {
  return `${layout}:${M}x${N}x${K}${count > 1 ? `x${count}` : ''}`;
}

/** Use this plan for blocked gemms of this layout and shape on this device (the autotune's choice). */
export function setBlockedPlan(gpu: Gpu, key: string, plan: BlockedPlan): void {
  let plans = chosenPlans.get(gpu);
  if (!plans) chosenPlans.set(gpu, (plans = new Map()));
  plans.set(key, plan);
}

export function blockedPlansOf(gpu: Gpu): ReadonlyMap<string, BlockedPlan> {
  return new Map(chosenPlans.get(gpu));
}

/** A blocked product as gemm recorded it: what the autotune needs to time plans for it. */
export interface ObservedShape {
  layout: MatmulLayout;
  M: number;
  N: number;
  K: number;
  /** products in the batch */
  count: number;
  accumulate: boolean;
  bias: boolean;
  gelu: boolean;
}

/** Per device, while watchBlockedShapes runs: the blocked products recorded without a chosen plan. */
const watchedShapes = new WeakMap<Gpu, Map<string, ObservedShape>>();

/**
 * Runs `record` (which records gemms into a Recorder) and returns the distinct
 * shapes of the blocked products it recorded that have no plan chosen yet.
 */
export function watchBlockedShapes(gpu: Gpu, record: () => void): ObservedShape[] {
  const seen = new Map<string, ObservedShape>();
  watchedShapes.set(gpu, seen);
  try {
    record();
  } finally {
    watchedShapes.delete(gpu);
  }
  return [...seen.values()];
}

/** Fewest values of k a split-K slice takes: shorter slices spend more on the partial sums than they gain. */
const MIN_SPLIT_K = 256;

/**
 * k values per slice when K is split `splits` ways: a multiple of the panel
 * depth, so that only the last slice ends in a partial panel.
 */
function splitLength(K: number, splits: number, tile: BlockedTile): number {
  return Math.ceil(K / splits / tile.bk) * tile.bk;
}

/**
 * The plan for a blocked gemm: the autotune's choice for the shape, else the
 * largest tile that spreads the product over BLOCKED_MIN_GROUPS workgroups;
 * where none does, the largest tile with K split until it does (one product
 * with K long enough), else the smallest tile.
 */
export function blockedPlanFor(gpu: Gpu, layout: MatmulLayout, M: number, N: number, K: number, count = 1): BlockedPlan {
  const tuned = chosenPlans.get(gpu)?.get(blockedShapeKey(layout, M, N, K, count));
  if (tuned) return tuned;
  const fitting = BLOCKED_TILES.filter((t) => blockedTileFits(gpu, t));
  const groups = (t: BlockedTile) => Math.ceil(M / (8 * t.wgY)) * Math.ceil(N / (8 * t.wgX)) * count;
  const filling = fitting.find((t) => groups(t) >= BLOCKED_MIN_GROUPS);
  if (filling) return { tile: filling, splits: 1 };
  const largest = fitting[0]!;
  const splits = count === 1 ? Math.min(Math.floor(K / MIN_SPLIT_K), Math.ceil(BLOCKED_MIN_GROUPS / groups(largest))) : 1;
  if (splits >= 2) return { tile: largest, splits: Math.ceil(K / splitLength(K, splits, largest)) };
  return { tile: fitting[fitting.length - 1]!, splits: 1 };
}

/**
 * Where the uniform variant runs matmul_uniform: one product (not a batch)
 * whose C fills at least 3/4 of its 32 x 256 blocks (every matmul of a `mid`
 * training step). Elsewhere it runs the subgroup variant, whose narrower
 * tilings idle fewer lanes (attention's per-head products, an LM head of 257
 * columns, a decoding step's few rows).
 */
export function uniformSuits(M: number, N: number, K: number, batchCount = 1): boolean {
  return batchCount === 1 && K > 0 && fills(M, UNIFORM_ROWS) && fills(N, UNIFORM_PANEL);
}

/** Whether a variant can run on these operands (matmul_bcast reads only B as vec4s). */
export function variantEligible(variant: MatmulVariant, a: Operand, b: Operand): boolean {
  switch (variant) {
    case 'vec4':
      return vec4Eligible(a, b);
    case 'bcast':
      return vec4Addressable(b);
    default:
      return true;
  }
}

/**
 * What gemm runs where nothing was chosen: on a CPU rasteriser with subgroups
 * of 8 or more (lavapipe), the uniform variant (matmul_uniform where the shape
 * suits it, else the subgroup variant, which it outruns by about 1.4-1.6x at
 * a mid step's shapes, itself 1.5-2x vec4: see the two shaders for why);
 * a CPU rasteriser without them, vec4; a GPU, the blocked variant (tiles
 * staged through workgroup memory, which GPUs reward and CPU rasterisers
 * punish). Fixed per device, so runs stay reproducible.
 */
export function defaultVariant(gpu: Gpu): MatmulVariant {
  if (gpu.cpu) return variantSupported(gpu, 'uniform') ? 'uniform' : 'vec4';
  return variantSupported(gpu, 'blocked') ? 'blocked' : 'vec4';
}

function pickVariant(gpu: Gpu, a: Operand, b: Operand, N: number, options: GemmOptions): MatmulVariant {
  if (options.variant) {
    if (!variantSupported(gpu, options.variant)) {
      throw new Error(
        `${options.name ?? 'matmul'}: the ${options.variant} variant needs the device's subgroups feature with subgroups of at least ${SUBGROUP_SPAN} invocations (this device: ${gpu.subgroupMinSize || 'no subgroups'})`,
      );
    }
    if (!variantEligible(options.variant, a, b)) {
      throw new Error(
        `${options.name ?? 'matmul'}: the ${options.variant} variant needs strides and offsets that are multiples of 4`,
      );
    }
    return options.variant;
  }
  // The choice for this layout, else the device's default, else what the operands allow.
  const candidates = [chosenVariants.get(gpu)?.[layoutOf(a, b)], defaultVariant(gpu), 'vec4', 'scalar'] as const;
  return candidates.find((v) => v && variantSupported(gpu, v) && variantEligible(v, a, b) && suits(v, N)) ?? 'scalar';
}

/**
 * The choice is tuned at one shape. matmul_bcast spreads a workgroup's lanes
 * over 256 columns of C, so on a narrower C most lanes would idle (tiny's
 * C=64 weight gradients ran 5x slower than vec4): leave those to the default.
 */
function suits(variant: MatmulVariant, N: number): boolean {
  return variant !== 'bcast' || N >= BCAST_WG * BCAST_COLS;
}

const unusedOutputs = new WeakMap<Gpu, GPUBuffer>();

function unusedOutput(gpu: Gpu): GPUBuffer {
  let buffer = unusedOutputs.get(gpu);
  if (!buffer) {
    buffer = gpu.createBuffer('matmul.unused_gelu_out', 16);
    unusedOutputs.set(gpu, buffer);
  }
  return buffer;
}

/** C(M,N) (+)= A(M,K) B(K,N) (+ bias), and gelu(C) into geluOut if given. */
export function gemm(
  rec: Recorder,
  c: Operand,
  a: Operand,
  b: Operand,
  M: number,
  N: number,
  K: number,
  options: GemmOptions = {},
): void {
  const gpu = rec.gpu;
  const bias = options.bias ?? null;
  let variant = pickVariant(gpu, a, b, N, options);
  if (variant === 'uniform') {
    if (uniformSuits(M, N, K, options.batch?.count)) return uniformGemm(rec, c, a, b, M, N, K, options);
    variant = 'subgroup';
  }
  const overrides: Record<string, boolean | number> = {
    TRANS_A: a.transposed ?? false,
    TRANS_B: b.transposed ?? false,
    ACCUMULATE: options.accumulate ?? false,
    HAS_BIAS: bias !== null,
    GELU_OUT: Boolean(options.geluOut),
  };
  if (variant === 'blocked') return blockedGemm(rec, c, a, b, M, N, K, options);
  if (variant === 'bcast') overrides.ROWS = BCAST_ROWS;
  // The subgroup variant's entry point and tile follow the shape.
  const tiling = variant === 'subgroup' ? subgroupTiling(M, N) : null;
  if (tiling?.entry === 'matmul_subgroup') {
    overrides.LANES = tiling.lanes;
    overrides.COLS = tiling.cols / tiling.lanes;
  }
  const [shader, entry] = KERNELS[variant];
  const pipeline = gpu.pipeline(shader, tiling?.entry ?? entry, overrides);
  const { count } = batchOf(options);
  const params = gpu.uniform(gemmParams(c, a, b, M, N, K, options));
  let groups: [number, number];
  if (variant === 'bcast') groups = [Math.ceil(N / (BCAST_WG * BCAST_COLS)), Math.ceil(M / BCAST_ROWS)];
  else if (variant === 'tiled') groups = [Math.ceil(N / TILED_BLOCK), Math.ceil(M / TILED_BLOCK)];
  else if (tiling) groups = [Math.ceil(N / tiling.cols), Math.ceil(M / tiling.rows)];
  else groups = [Math.ceil(N / (TILE * WG)), Math.ceil(M / (TILE * WG))];
  // Without a bias the binding is unused; any buffer fills the slot. The
  // GELU output is writable, so its stand-in must not alias another binding.
  const geluOut = options.geluOut ?? unusedOutput(gpu);
  rec.dispatch(options.name ?? 'matmul', pipeline, [params, c.binding, a.binding, b.binding, bias ?? b.binding, geluOut], [...groups, count], {
    flops: count * (2 * M * N * K + (options.geluOut ? 15 * M * N : 0)),
    bytes: 4 * count * (M * K + K * N + M * N * ((options.accumulate ? 2 : 1) + (options.geluOut ? 1 : 0))),
  });
}

function batchOf(options: GemmOptions): { count: number; inner: number } {
  const count = options.batch?.count ?? 1;
  const inner = options.batch?.inner ?? count;
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(inner) || inner < 1) {
    throw new Error(`${options.name ?? 'matmul'}: a batch needs a positive whole count and inner count, got ${count} and ${inner}`);
  }
  return { count, inner };
}

/** matmul.wgsl's Params (shared by matmul_subgroup.wgsl and matmul_blocked.wgsl): shape, strides, offsets, batch. */
function gemmParams(c: Operand, a: Operand, b: Operand, M: number, N: number, K: number, options: GemmOptions): number[] {
  const { inner } = batchOf(options);
  const [aOuter, aInner] = a.stride ?? [0, 0];
  const [bOuter, bInner] = b.stride ?? [0, 0];
  const [cOuter, cInner] = c.stride ?? [0, 0];
  return [M, N, K, a.ld, b.ld, c.ld, a.offset ?? 0, b.offset ?? 0, c.offset ?? 0, inner, aOuter, aInner, bOuter, bInner, cOuter, cInner];
}

/** Per device, the scratch buffer split-K partial products go to, grown as needed. */
const splitBuffers = new WeakMap<Gpu, GPUBuffer>();

function splitBuffer(gpu: Gpu, bytes: number): GPUBuffer {
  const current = splitBuffers.get(gpu);
  if (current && current.size >= bytes) return current;
  // Not destroyed: dispatches recorded but not yet submitted may still use it.
  const grown = gpu.createBuffer('matmul.split_k_partials', Math.max(bytes, 2 * (current?.size ?? 0)));
  splitBuffers.set(gpu, grown);
  return grown;
}

/**
 * The blocked variant (shaders/matmul_blocked.wgsl): one dispatch of the
 * plan's tiles, or with split-K one dispatch of partial products (a slice of
 * K per workgroup z) and one that sums them into C with the epilogue.
 */
function blockedGemm(rec: Recorder, c: Operand, a: Operand, b: Operand, M: number, N: number, K: number, options: GemmOptions): void {
  const gpu = rec.gpu;
  const name = options.name ?? 'matmul';
  const { count } = batchOf(options);
  if (skinnySuits(a, M) && !options.blocked) return skinnyGemm(rec, c, a, b, M, N, K, options);
  const layout = layoutOf(a, b);
  const watch = watchedShapes.get(gpu);
  const key = blockedShapeKey(layout, M, N, K, count);
  if (watch && !options.blocked && !chosenPlans.get(gpu)?.has(key)) {
    const gelu = Boolean(options.geluOut);
    watch.set(key, { layout, M, N, K, count, accumulate: options.accumulate ?? false, bias: options.bias != null, gelu });
  }
  const plan = options.blocked ?? blockedPlanFor(gpu, layout, M, N, K, count);
  const { tile } = plan;
  if (!blockedTileFits(gpu, tile)) throw new Error(`${name}: the blocked tile ${JSON.stringify(tile)} does not fit this device's workgroups`);
  if (!Number.isInteger(plan.splits) || plan.splits < 1 || (plan.splits > 1 && count > 1)) {
    throw new Error(`${name}: split-K needs a whole number of slices, and one product (got ${plan.splits} slices of ${count} products)`);
  }
  const flags = {
    TRANS_A: a.transposed ?? false,
    TRANS_B: b.transposed ?? false,
    ACCUMULATE: options.accumulate ?? false,
    HAS_BIAS: options.bias != null,
    GELU_OUT: Boolean(options.geluOut),
  };
  const tileOverrides = { WG_X: tile.wgX, WG_Y: tile.wgY, BK: tile.bk };
  const groups: [number, number] = [Math.ceil(N / (8 * tile.wgX)), Math.ceil(M / (8 * tile.wgY))];
  // Without a bias the binding is unused; any buffer fills the slot. The
  // GELU output is writable, so its stand-in must not alias another binding.
  const bias = options.bias ?? b.binding;
  const geluOut = options.geluOut ?? unusedOutput(gpu);
  const epilogueBytes = 4 * M * N * ((options.accumulate ? 2 : 1) + (options.geluOut ? 1 : 0));
  const productWork = { flops: count * 2 * M * N * K, bytes: 4 * count * (M * K + K * N) };
  const splits = Math.ceil(K / splitLength(K, plan.splits, tile));
  if (splits === 1) {
    const pipeline = gpu.pipeline('matmul_blocked', 'matmul_blocked', { ...flags, ...tileOverrides });
    const params = gpu.uniform([...gemmParams(c, a, b, M, N, K, options), K, 1]);
    rec.dispatch(name, pipeline, [params, c.binding, a.binding, b.binding, bias, geluOut], [...groups, count], {
      flops: productWork.flops + count * (options.geluOut ? 15 * M * N : 0),
      bytes: productWork.bytes + count * epilogueBytes,
    });
    return;
  }
  // The slices' partial products, dense (splits, M, N), then C (+)= their sum.
  const partials = splitBuffer(gpu, splits * M * N * 4);
  const kSplit = splitLength(K, splits, tile);
  const partialParams = gpu.uniform([
    M, N, K, a.ld, b.ld, N, a.offset ?? 0, b.offset ?? 0, 0, 1, 0, 0, 0, 0, M * N, 0, kSplit, splits,
  ]);
  const partialPipeline = gpu.pipeline('matmul_blocked', 'matmul_blocked', {
    TRANS_A: flags.TRANS_A,
    TRANS_B: flags.TRANS_B,
    SPLIT_K: true,
    ...tileOverrides,
  });
  rec.dispatch(`${name}`, partialPipeline, [partialParams, partials, a.binding, b.binding, b.binding, geluOut], [...groups, splits], {
    flops: productWork.flops,
    bytes: productWork.bytes + 4 * splits * M * N,
  });
  const combineParams = gpu.uniform([...gemmParams(c, a, b, M, N, K, options), kSplit, splits]);
  const combinePipeline = gpu.pipeline('matmul_blocked', 'matmul_blocked_combine', flags);
  rec.dispatch(`${name}_combine`, combinePipeline, [combineParams, c.binding, partials, null, bias, geluOut], [gpu.groupsFor(M * N, 64)], {
    flops: splits * M * N + (options.geluOut ? 15 * M * N : 0),
    bytes: 4 * splits * M * N + epilogueBytes,
  });
}

/** Rows of C at most for matmul_skinny (shaders/matmul_skinny.wgsl), and its lanes: a column of C each. */
const SKINNY_ROWS = 8;
const SKINNY_LANES = 64;

/**
 * Where the blocked variant runs matmul_skinny instead: a few rows of A
 * stored (M,K), as decoding runs every linear layer (one row a sequence). A
 * blocked tile would give 4 of its 64 rows work.
 */
export function skinnySuits(a: Operand, M: number): boolean {
  return M <= SKINNY_ROWS && !a.transposed;
}

/** The blocked variant's path for a few rows: the weight spread over the workgroups (shaders/matmul_skinny.wgsl). */
function skinnyGemm(rec: Recorder, c: Operand, a: Operand, b: Operand, M: number, N: number, K: number, options: GemmOptions): void {
  const gpu = rec.gpu;
  const { count } = batchOf(options);
  const nt = b.transposed ?? false;
  const pipeline = gpu.pipeline('matmul_skinny', nt ? 'matmul_skinny_nt' : 'matmul_skinny_nn', {
    ACCUMULATE: options.accumulate ?? false,
    HAS_BIAS: options.bias != null,
    GELU_OUT: Boolean(options.geluOut),
  });
  // Without a bias the binding is unused; any buffer fills the slot. The
  // GELU output is writable, so its stand-in must not alias another binding.
  const bindings = [gpu.uniform(gemmParams(c, a, b, M, N, K, options)), c.binding, a.binding, b.binding, options.bias ?? b.binding, options.geluOut ?? unusedOutput(gpu)];
  rec.dispatch(options.name ?? 'matmul', pipeline, bindings, [Math.ceil(N / SKINNY_LANES), 1, count], {
    flops: count * (2 * M * N * K + (options.geluOut ? 15 * M * N : 0)),
    bytes: 4 * count * (M * K + K * N + M * N * ((options.accumulate ? 2 : 1) + (options.geluOut ? 1 : 0))),
  });
}

/** Scratch buffers per device that gemm packs A's and B's panels into, grown as needed. */
const panelBuffers = new WeakMap<Gpu, { a?: GPUBuffer; b?: GPUBuffer }>();

function panelBuffer(gpu: Gpu, operand: 'a' | 'b', bytes: number): GPUBuffer {
  let buffers = panelBuffers.get(gpu);
  if (!buffers) panelBuffers.set(gpu, (buffers = {}));
  const current = buffers[operand];
  if (current && current.size >= bytes) return current;
  // Not destroyed: dispatches recorded but not yet submitted may still read it.
  const grown = gpu.createBuffer(
    `matmul.${operand}_panels`,
    Math.max(bytes, 2 * (current?.size ?? 0)),
    GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  );
  buffers[operand] = grown;
  return grown;
}

/** One operand as X(r, k) = source[offset + r rowStride + k kStride] (R rows, K columns). */
interface PanelSource {
  binding: Binding;
  rows: number;
  rowStride: number;
  kStride: number;
  offset: number;
}

/** A as X(m, k) = A(m, k); B as X(n, k) = B(k, n). */
function panelSource(operand: Operand, rows: number, isB: boolean): PanelSource {
  // A stored (M,K): X's rows are A's; B stored (K,N): X's rows are B's columns.
  const rowsAreStoredRows = isB ? operand.transposed : !operand.transposed;
  const [rowStride, kStride] = rowsAreStoredRows ? [operand.ld, 1] : [1, operand.ld];
  return { binding: operand.binding, rows, rowStride, kStride, offset: operand.offset ?? 0 };
}

/** A scratch texture per device, for copies that reshape blocks of an operand (see packPanels). */
const reshapeTextures = new WeakMap<Gpu, GPUTexture>();

function reshapeTexture(gpu: Gpu, width: number, height: number): GPUTexture {
  const current = reshapeTextures.get(gpu);
  if (current && current.width >= width && current.height >= height) return current;
  // Not destroyed: copies recorded but not yet submitted may still use it.
  const grown = gpu.device.createTexture({
    label: 'matmul.reshape',
    size: { width: Math.max(width, current?.width ?? 0), height: Math.max(height, current?.height ?? 0) },
    format: 'r32float',
    usage: GPUTextureUsage.COPY_SRC | GPUTextureUsage.COPY_DST,
  });
  reshapeTextures.set(gpu, grown);
  return grown;
}

/** The panels' window layout for an operand: [r][k] where its values of k are side by side. */
function kInner(x: PanelSource): boolean {
  return x.kStride === 1 && x.rowStride !== 1;
}

/**
 * X into panels (see shaders/matmul_uniform.wgsl), in the window layout of
 * the operand as stored. Where K fills whole windows, the operand's rows are
 * a multiple of 64 elements apart (texture copies need 256 bytes) and its
 * buffer may be copied from (every tensor of this library's), each
 * panel goes through a texture, which lavapipe copies with memcpy; elsewhere
 * matmul_pack writes the panels, reading the operand one element a lane.
 */
function packPanels(rec: Recorder, panels: GPUBuffer, x: PanelSource, K: number, kPadded: number): void {
  const gpu = rec.gpu;
  const inner = kInner(x);
  const panelCount = Math.ceil(x.rows / UNIFORM_PANEL);
  const storedRowStride = inner ? x.rowStride : x.kStride;
  const buffer = bufferOf(x.binding);
  const copyable = (buffer.usage & GPUBufferUsage.COPY_SRC) !== 0 && K <= gpu.device.limits.maxTextureDimension2D;
  if (copyable && K === kPadded && storedRowStride % 64 === 0) {
    const base = bindingOffset(x.binding) + 4 * x.offset;
    const texture = inner ? reshapeTexture(gpu, K, UNIFORM_PANEL) : reshapeTexture(gpu, UNIFORM_PANEL, K);
    rec.encodeCopies((encoder) => {
      for (let p = 0; p < panelCount; p++) {
        // Rows of the texture past the panel's keep what they held, which
        // reaches only rows or columns of C that are not stored.
        const r0 = p * UNIFORM_PANEL;
        const rows = Math.min(UNIFORM_PANEL, x.rows - r0);
        const panelOffset = p * kPadded * UNIFORM_PANEL * 4;
        if (inner) {
          // The panel's rows of K values, then each window's 64 columns of them.
          const source = { buffer, offset: base + 4 * r0 * x.rowStride, bytesPerRow: 4 * x.rowStride };
          encoder.copyBufferToTexture(source, { texture }, { width: K, height: rows });
          for (let w = 0; w < K / UNIFORM_WINDOW_K; w++) {
            encoder.copyTextureToBuffer(
              { texture, origin: { x: w * UNIFORM_WINDOW_K, y: 0 } },
              { buffer: panels, offset: panelOffset + w * UNIFORM_WINDOW_BYTES, bytesPerRow: 4 * UNIFORM_WINDOW_K },
              { width: UNIFORM_WINDOW_K, height: rows },
            );
          }
        } else {
          // K rows of the panel's (up to) 256 values, side by side in the operand.
          const source = { buffer, offset: base + 4 * r0, bytesPerRow: 4 * x.kStride };
          encoder.copyBufferToTexture(source, { texture }, { width: rows, height: K });
          encoder.copyTextureToBuffer(
            { texture },
            { buffer: panels, offset: panelOffset, bytesPerRow: 4 * UNIFORM_PANEL },
            { width: rows, height: K },
          );
        }
      }
    });
    return;
  }
  const params = gpu.uniform([x.rows, K, x.rowStride, x.kStride, x.offset, kPadded]);
  const pipeline = gpu.pipeline('matmul_uniform', 'matmul_pack', { K_INNER: inner });
  rec.dispatch('matmul_pack', pipeline, [params, panels, x.binding], [panelCount, kPadded / UNIFORM_PACK_K], {
    bytes: 4 * (x.rows * K + panelCount * UNIFORM_PANEL * kPadded),
  });
}

/**
 * The uniform variant: A and B packed into panels, then C panel by panel, up
 * to UNIFORM_WINDOWS windows of k a dispatch, the first adding the bias (and
 * C's value when accumulating), the later ones adding to C, the last writing
 * gelu(C).
 */
function uniformGemm(rec: Recorder, c: Operand, a: Operand, b: Operand, M: number, N: number, K: number, options: GemmOptions): void {
  const gpu = rec.gpu;
  const kPadded = Math.ceil(K / UNIFORM_WINDOW_K) * UNIFORM_WINDOW_K;
  const windows = kPadded / UNIFORM_WINDOW_K;
  const [aPanelCount, bPanelCount] = [Math.ceil(M / UNIFORM_PANEL), Math.ceil(N / UNIFORM_PANEL)];
  const panelBytes = kPadded * UNIFORM_PANEL * 4;
  const aPanels = panelBuffer(gpu, 'a', aPanelCount * panelBytes);
  const bPanels = panelBuffer(gpu, 'b', bPanelCount * panelBytes);
  const [aSource, bSource] = [panelSource(a, M, false), panelSource(b, N, true)];
  packPanels(rec, aPanels, aSource, K, kPadded);
  packPanels(rec, bPanels, bSource, K, kPadded);

  const pipeline = gpu.pipeline('matmul_uniform', 'matmul_uniform', { A_K_INNER: kInner(aSource), B_K_INNER: kInner(bSource) });
  // Windows split evenly between the dispatches (16 as 4 x 4, not 5+5+5+1):
  // each dispatch also reads and writes its block of C.
  const perDispatch = Math.ceil(windows / Math.ceil(windows / UNIFORM_WINDOWS));
  const name = options.name ?? 'matmul';
  // Without a bias the binding is unused; A's binding fills the slot (it is
  // read-only here, unlike C). The GELU output's stand-in must alias nothing.
  const bias = options.bias ?? a.binding;
  const geluOut = options.geluOut ?? unusedOutput(gpu);
  for (let p = 0; p < aPanelCount; p++) {
    const rows = Math.min(UNIFORM_PANEL, M - p * UNIFORM_PANEL);
    for (let q = 0; q < bPanelCount; q++) {
      const cols = Math.min(UNIFORM_PANEL, N - q * UNIFORM_PANEL);
      for (let w0 = 0; w0 < windows; w0 += perDispatch) {
        const kIn: number[] = [];
        const aWindows: Binding[] = [];
        const bWindows: Binding[] = [];
        for (let i = 0; i < UNIFORM_WINDOWS; i++) {
          // Unused pairs take no k and bind the first pair again.
          const used = i < perDispatch && w0 + i < windows;
          const w = used ? w0 + i : w0;
          const kStart = w * UNIFORM_WINDOW_K;
          kIn.push(used ? Math.ceil(Math.min(UNIFORM_WINDOW_K, K - kStart) / SUBGROUP_SPAN) * SUBGROUP_SPAN : 0);
          aWindows.push({ buffer: aPanels, offset: p * panelBytes + w * UNIFORM_WINDOW_BYTES, size: UNIFORM_WINDOW_BYTES });
          bWindows.push({ buffer: bPanels, offset: q * panelBytes + w * UNIFORM_WINDOW_BYTES, size: UNIFORM_WINDOW_BYTES });
        }
        const first = w0 === 0;
        const last = w0 + perDispatch >= windows;
        const params = gpu.uniform([
          M, N, c.ld, c.offset ?? 0, p * UNIFORM_PANEL, q * UNIFORM_PANEL, ...kIn,
          Number(!first || Boolean(options.accumulate)), Number(first && options.bias != null), Number(last && options.geluOut != null),
        ]);
        const kCount = Math.min(K, (w0 + perDispatch) * UNIFORM_WINDOW_K) - w0 * UNIFORM_WINDOW_K;
        rec.dispatch(name, pipeline, [params, c.binding, bias, geluOut, ...aWindows, ...bWindows], [1, Math.ceil(rows / UNIFORM_ROWS)], {
          flops: 2 * rows * cols * kCount + (last && options.geluOut ? 15 * rows * cols : 0),
          bytes: 4 * (rows * kCount + kCount * cols + rows * cols * ((first && !options.accumulate ? 1 : 2) + (last && options.geluOut ? 1 : 0))),
        });
      }
    }
  }
}

/** out(M,N) = inp(M,K) weight(N,K)^T + bias(N). */
export function matmulForward(
  rec: Recorder,
  out: Binding,
  inp: Binding,
  weight: Binding,
  bias: Binding | null,
  M: number,
  K: number,
  N: number,
): void {
  gemm(rec, { binding: out, ld: N }, { binding: inp, ld: K }, { binding: weight, ld: K, transposed: true }, M, N, K, {
    bias,
    name: 'matmul_forward',
  });
}

/**
 * out(M,N) = inp(M,K) weight(N,K)^T + bias(N) and outGelu = gelu(out) in the
 * same kernel: the MLP's first layer, whose pre-activation the backward pass reads.
 */
export function matmulForwardGelu(
  rec: Recorder,
  out: Binding,
  outGelu: Binding,
  inp: Binding,
  weight: Binding,
  bias: Binding | null,
  M: number,
  K: number,
  N: number,
): void {
  gemm(rec, { binding: out, ld: N }, { binding: inp, ld: K }, { binding: weight, ld: K, transposed: true }, M, N, K, {
    bias,
    geluOut: outGelu,
    name: 'matmul_forward_gelu',
  });
}

/** dinp(M,K) = dout weight; dweight(N,K) += dout^T inp; dbias(N) += column sums of dout. */
export function matmulBackward(
  rec: Recorder,
  dinp: Binding | null,
  dweight: Binding,
  dbias: Binding | null,
  dout: Binding,
  inp: Binding,
  weight: Binding,
  M: number,
  K: number,
  N: number,
): void {
  if (dinp) {
    gemm(rec, { binding: dinp, ld: K }, { binding: dout, ld: N }, { binding: weight, ld: K }, M, K, N, {
      name: 'matmul_backward_dinp',
    });
  }
  gemm(rec, { binding: dweight, ld: K }, { binding: dout, ld: N, transposed: true }, { binding: inp, ld: K }, N, K, M, {
    accumulate: true,
    name: 'matmul_backward_dweight',
  });
  if (dbias) matmulBackwardBias(rec, dbias, { binding: dout, ld: N }, M, N);
}

/**
 * dbias(N) += column sums of dout(M,N). By default (see reduction.ts) one
 * invocation per column on a CPU rasteriser (matmul_backward_bias here), else
 * blocks of rows summed in two dispatches (matmul-bias.ts).
 */
export function matmulBackwardBias(rec: Recorder, dbias: Binding, dout: Operand, M: number, N: number, variant?: ReductionVariant): void {
  const gpu = rec.gpu;
  if (reductionVariant(gpu, variant) === 'gpu') return matmulBackwardBiasBlocked(rec, dbias, dout.binding, dout.ld, dout.offset ?? 0, M, N);
  const params = gpu.uniform([M, N, 0, 0, 0, dout.ld, 0, 0, dout.offset ?? 0, 1, 0, 0, 0, 0, 0, 0]);
  rec.dispatch(
    'matmul_backward_bias',
    gpu.pipeline('matmul', 'matmul_backward_bias'),
    [params, dbias, dout.binding],
    [gpu.groupsFor(N, 64)],
    { flops: M * N, bytes: 4 * (M * N + 2 * N) },
  );
}
