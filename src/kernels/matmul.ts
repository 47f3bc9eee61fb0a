/**
 * Matrix multiply. `gemm` is the general strided form; the linear-layer
 * launchers below are what the model calls. Weights are stored (N,K) (PyTorch
 * Linear layout; Hugging Face's Conv1D (K,N) is transposed at load time).
 * Parameter gradients accumulate (dweight +=, dbias +=), activation gradients
 * assign (dinp =).
 */
import type { Binding } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';

const TILE = 4;
const WG = 8;

/** One operand: a binding and how to address it. */
export interface Operand {
  binding: Binding;
  /** row stride of the matrix as stored */
  ld: number;
  /** element offset of (0,0) within the binding */
  offset?: number;
  /** stored transposed: A as (K,M), B as (N,K) */
  transposed?: boolean;
}

export interface GemmOptions {
  /** C += A B instead of C = A B */
  accumulate?: boolean;
  /** (N) added to every row of the product */
  bias?: Binding | null;
  /** name in profiles */
  name?: string;
  /**
   * Kernel variant; by default `vec4` wherever the operands allow it
   * (vec4Eligible) and `scalar` elsewhere.
   */
  variant?: MatmulVariant;
}

export type MatmulVariant = 'scalar' | 'vec4';

function bindingOffset(b: Binding): number {
  return 'buffer' in b ? b.offset : 0;
}

/**
 * matmul_vec4 reads each operand as vec4s along its contiguous dimension, so
 * that dimension's stride and the element offsets must be multiples of 4 and
 * the bindings 16-byte aligned.
 */
export function vec4Eligible(a: Operand, b: Operand): boolean {
  return [a, b].every((o) => o.ld % 4 === 0 && (o.offset ?? 0) % 4 === 0 && bindingOffset(o.binding) % 16 === 0);
}

/** C(M,N) (+)= A(M,K) B(K,N) (+ bias). */
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
  const variant = options.variant ?? (vec4Eligible(a, b) ? 'vec4' : 'scalar');
  if (variant === 'vec4' && !vec4Eligible(a, b)) {
    throw new Error(`${options.name ?? 'matmul'}: the vec4 variant needs strides and offsets that are multiples of 4`);
  }
  const pipeline = gpu.pipeline('matmul', variant === 'vec4' ? 'matmul_vec4' : 'matmul', {
    TRANS_A: a.transposed ?? false,
    TRANS_B: b.transposed ?? false,
    ACCUMULATE: options.accumulate ?? false,
    HAS_BIAS: bias !== null,
  });
  const params = gpu.uniform([M, N, K, a.ld, b.ld, c.ld, a.offset ?? 0, b.offset ?? 0, c.offset ?? 0]);
  const gx = Math.ceil(N / (TILE * WG));
  const gy = Math.ceil(M / (TILE * WG));
  // Without a bias the binding is unused; any buffer fills the slot.
  rec.dispatch(options.name ?? 'matmul', pipeline, [params, c.binding, a.binding, b.binding, bias ?? b.binding], [gx, gy], {
    flops: 2 * M * N * K,
    bytes: 4 * (M * K + K * N + M * N * (options.accumulate ? 2 : 1)),
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
  const params = gpu.uniform([M, N, 0, 0, 0, dout.ld, 0, 0, dout.offset ?? 0]);
  rec.dispatch(
    'matmul_backward_bias',
    gpu.pipeline('matmul', 'matmul_backward_bias'),
    [params, dbias, dout.binding],
    [gpu.groupsFor(N, 64)],
    { flops: M * N, bytes: 4 * (M * N + 2 * N) },
  );
}
