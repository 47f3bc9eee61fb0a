/**
 * A linear layer's bias gradient on GPUs (shaders/matmul_bias.wgsl), the `gpu`
 * variant of matmulBackwardBias in matmul.ts. A parameter gradient: it
 * accumulates (dbias +=).
 */
import type { Binding } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { partialsBuffer, rowBlocks } from './reduction.ts';

/** matmul_bias.wgsl's columns per workgroup */
const COLS = 64;

/**
 * dbias(N) += column sums of dout(M,N), dout at element `offset` of its
 * binding with rows `ld` apart: partial sums over blocks of rows, then their
 * sum. Profiled as `matmul_backward_bias` (the partial sums, which read dout
 * and take nearly all the time) and `matmul_backward_bias_combine`.
 */
export function matmulBackwardBiasBlocked(rec: Recorder, dbias: Binding, dout: Binding, ld: number, offset: number, M: number, N: number): void {
  const gpu = rec.gpu;
  const { blocks, rows } = rowBlocks(M);
  const partials = partialsBuffer(gpu, 4 * blocks * N);
  const params = gpu.uniform([M, N, ld, offset, rows, blocks]);
  const groups = Math.ceil(N / COLS);
  rec.dispatch(
    'matmul_backward_bias',
    gpu.pipeline('matmul_bias', 'matmul_backward_bias_partial'),
    [params, partials, dout],
    [groups, blocks],
    { flops: M * N, bytes: 4 * (M * N + blocks * N) },
  );
  rec.dispatch(
    'matmul_backward_bias_combine',
    gpu.pipeline('matmul_bias', 'matmul_backward_bias_combine'),
    [params, dbias, partials],
    [groups],
    { flops: blocks * N, bytes: 4 * (blocks * N + 2 * N) },
  );
}
