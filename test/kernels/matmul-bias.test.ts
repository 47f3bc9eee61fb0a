import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import type { Recorder } from '../../src/gpu/recorder.ts';
import { matmulBackwardBias } from '../../src/kernels/matmul.ts';
import { REDUCTION_VARIANTS, reductionVariant, rowBlocks, type ReductionVariant } from '../../src/kernels/reduction.ts';
import { expectClose, ODD, randn, Rng, run, testGpu, upload } from '../helpers.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

// Rows and columns that are multiples of no block: one row, a block's worth
// less one, 2049 rows (63 blocks of 33, the last of 3), and columns short of,
// and past, the 64 a workgroup covers.
const SHAPES: [number, number][] = [
  [ODD.B * ODD.T, ODD.C],
  [1, 1],
  [7, 3],
  [1, 770],
  [2049, 3],
  [2049, 770],
  [100, 65],
];

/** dbias(N) += column sums of dout(M,N), in f64. */
function reference(dbias0: Float32Array, dout: Float32Array, M: number, N: number, ld = N, offset = 0): Float32Array {
  const sums = Float64Array.from(dbias0);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) sums[n]! += dout[offset + m * ld + n]!;
  return Float32Array.from(sums);
}

async function biasGradient(variant: ReductionVariant, dout: Float32Array, dbias0: Float32Array, M: number, N: number, ld = N, offset = 0) {
  const dbias = upload(gpu, 'dbias', dbias0);
  await run(gpu, (rec) => matmulBackwardBias(rec, dbias, { binding: upload(gpu, 'dout', dout), ld, offset }, M, N, variant));
  return gpu.readF32(dbias, 0, N);
}

describe.each(REDUCTION_VARIANTS as readonly ReductionVariant[])('matmul_backward_bias, %s variant', (variant) => {
  it.for(SHAPES)('M=%i N=%i: dbias accumulates the column sums of dout', async ([M, N]) => {
    const rng = new Rng(M * 13 + N);
    const dout = randn(rng, M * N);
    const dbias0 = randn(rng, N);
    // Sums of up to 2049 terms near 1: an absolute tolerance to match.
    expectClose(await biasGradient(variant, dout, dbias0, M, N), reference(dbias0, dout, M, N), 'dbias', { rtol: 1e-5, atol: 1e-5 * Math.sqrt(M) });
  });

  it('reads a column window of a wider matrix through its offset and row stride', async () => {
    const [M, N, ld, offset] = [70, 37, 101, 205];
    const rng = new Rng(11);
    const dout = randn(rng, offset + M * ld);
    const dbias0 = randn(rng, N);
    expectClose(await biasGradient(variant, dout, dbias0, M, N, ld, offset), reference(dbias0, dout, M, N, ld, offset), 'dbias', {
      rtol: 1e-5,
      atol: 1e-4,
    });
  });

  it('repeats its results bit for bit', async () => {
    const [M, N] = [2049, 770];
    const rng = new Rng(5);
    const dout = randn(rng, M * N);
    const dbias0 = randn(rng, N);
    expect(await biasGradient(variant, dout, dbias0, M, N)).toEqual(await biasGradient(variant, dout, dbias0, M, N));
  });
});

describe('matmul_backward_bias variant choice', () => {
  it('splits rows into blocks of at least 32, at most 64 blocks, none empty', () => {
    expect(rowBlocks(1)).toEqual({ blocks: 1, rows: 1 });
    expect(rowBlocks(7)).toEqual({ blocks: 1, rows: 7 });
    expect(rowBlocks(100)).toEqual({ blocks: 4, rows: 32 });
    expect(rowBlocks(2048)).toEqual({ blocks: 64, rows: 32 });
    expect(rowBlocks(2049)).toEqual({ blocks: 63, rows: 33 });
    expect(rowBlocks(100_000)).toEqual({ blocks: 64, rows: 1563 });
  });

  it('runs one kernel on CPU adapters and two elsewhere, unless told', () => {
    const names = (variant?: ReductionVariant) => {
      const labels: string[] = [];
      const rec = { gpu, dispatch: (name: string, pipeline: GPUComputePipeline) => labels.push(`${name} ${pipeline.label.split(':')[1]}`) };
      const b = upload(gpu, 'x', new Float32Array(12));
      matmulBackwardBias(rec as unknown as Recorder, b, { binding: b, ld: 4 }, 3, 4, variant);
      return labels;
    };
    const cpu = ['matmul_backward_bias matmul_backward_bias'];
    const gpuKernels = ['matmul_backward_bias matmul_backward_bias_partial', 'matmul_backward_bias_combine matmul_backward_bias_combine'];
    expect(names('cpu')).toEqual(cpu);
    expect(names('gpu')).toEqual(gpuKernels);
    expect(names()).toEqual(reductionVariant(gpu) === 'cpu' ? cpu : gpuKernels);
    expect(reductionVariant(gpu)).toBe(gpu.cpu ? 'cpu' : 'gpu');
  });
});
