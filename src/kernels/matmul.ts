/**
 * Matrix multiply. `gemm` is the general strided form; the linear-layer
 * launchers below are what the model calls. Weights are stored (N,K) (PyTorch
 * Linear layout; Hugging Face's Conv1D (K,N) is transposed at load time).
 * Parameter gradients accumulate (dweight +=, dbias +=), activation gradients
 * assign (dinp =).
 */
import type { Binding } from '../gpu/buffers.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { Recorder } from '../gpu/recorder.ts';

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
 * How the subgroup variant covers C: matmul_subgroup_wide's 32 x 256 blocks
 * where C fills at least 3/4 of them (20-25% faster on lavapipe), else
 * matmul_subgroup with 1 column a lane, 2 once C is wide enough to keep 64
 * lanes busy, and fewer lanes (a multiple of 8) where that leaves fewer idle:
 * attention's per-head products of 32 columns take 32 lanes (1.75x faster than
 * 64), an LM head of 257 columns three workgroups of 48 (28% faster).
 */
export function subgroupTiling(M: number, N: number): { entry: string; rows: number; cols: number; lanes: number } {
  const filled = (n: number, block: number) => n / (Math.ceil(n / block) * block) >= 0.75;
  if (filled(M, SUBGROUP_WIDE_ROWS) && filled(N, SUBGROUP_WIDE_COLS)) {
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
}

/**
 * See shaders/matmul.wgsl for what each variant is good at; `subgroup` is in
 * shaders/matmul_subgroup.wgsl, and needs the device's `subgroups` feature.
 */
export const MATMUL_VARIANTS = ['scalar', 'vec4', 'bcast', 'tiled', 'subgroup'] as const;
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
};

// Per device rather than on Gpu, so that the choice stays a concern of this kernel.
const chosenVariants = new WeakMap<Gpu, MatmulVariantChoice>();

/** Use these variants for gemms on this device that do not name one (see gpu/autotune.ts). */
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

/** Whether the device can run a variant at all: matmul_subgroup needs subgroups of at least 8. */
export function variantSupported(gpu: Gpu, variant: MatmulVariant): boolean {
  return variant !== 'subgroup' || gpu.subgroupMinSize >= SUBGROUP_SPAN;
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
 * of 8 or more (lavapipe), matmul_subgroup, which a tiny training step there
 * runs about 1.2-1.4x faster with than vec4 (see shaders/matmul_subgroup.wgsl
 * for why); elsewhere vec4. Fixed per device, so runs stay reproducible.
 */
export function defaultVariant(gpu: Gpu): MatmulVariant {
  return gpu.cpu && variantSupported(gpu, 'subgroup') ? 'subgroup' : 'vec4';
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
  const variant = pickVariant(gpu, a, b, N, options);
  const overrides: Record<string, boolean | number> = {
    TRANS_A: a.transposed ?? false,
    TRANS_B: b.transposed ?? false,
    ACCUMULATE: options.accumulate ?? false,
    HAS_BIAS: bias !== null,
    GELU_OUT: Boolean(options.geluOut),
  };
  if (variant === 'bcast') overrides.ROWS = BCAST_ROWS;
  // The subgroup variant's entry point and tile follow the shape.
  const tiling = variant === 'subgroup' ? subgroupTiling(M, N) : null;
  if (tiling?.entry === 'matmul_subgroup') {
    overrides.LANES = tiling.lanes;
    overrides.COLS = tiling.cols / tiling.lanes;
  }
  const [shader, entry] = KERNELS[variant];
  const pipeline = gpu.pipeline(shader, tiling?.entry ?? entry, overrides);
  const count = options.batch?.count ?? 1;
  const inner = options.batch?.inner ?? count;
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(inner) || inner < 1) {
    throw new Error(`${options.name ?? 'matmul'}: a batch needs a positive whole count and inner count, got ${count} and ${inner}`);
  }
  const [aOuter, aInner] = a.stride ?? [0, 0];
  const [bOuter, bInner] = b.stride ?? [0, 0];
  const [cOuter, cInner] = c.stride ?? [0, 0];
  const params = gpu.uniform([
    M, N, K, a.ld, b.ld, c.ld, a.offset ?? 0, b.offset ?? 0, c.offset ?? 0,
    inner, aOuter, aInner, bOuter, bInner, cOuter, cInner,
  ]);
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

/** dbias(N) += column sums of dout(M,N). */
export function matmulBackwardBias(rec: Recorder, dbias: Binding, dout: Operand, M: number, N: number): void {
  const gpu = rec.gpu;
  const params = gpu.uniform([M, N, 0, 0, 0, dout.ld, 0, 0, dout.offset ?? 0, 1, 0, 0, 0, 0, 0, 0]);
  rec.dispatch(
    'matmul_backward_bias',
    gpu.pipeline('matmul', 'matmul_backward_bias'),
    [params, dbias, dout.binding],
    [gpu.groupsFor(N, 64)],
    { flops: M * N, bytes: 4 * (M * N + 2 * N) },
  );
}
