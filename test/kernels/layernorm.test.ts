import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import type { Recorder } from '../../src/gpu/recorder.ts';
import { layernormBackward, layernormForward } from '../../src/kernels/layernorm.ts';
import { REDUCTION_VARIANTS, reductionVariant, type ReductionVariant } from '../../src/kernels/reduction.ts';
import * as ref from '../../src/reference/index.ts';
import { expectClose, ODD, randn, Rng, run, testGpu, upload, zeros } from '../helpers.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

// Rows and channels that are multiples of no workgroup, lane count or block
// of rows: the gpu variant's 128 lanes a row cover 770 channels unevenly and
// 3 with most lanes idle; 2049 rows make 63 blocks of 33 for the parameter
// gradients, the last of 3.
const SHAPES: [number, number][] = [
  [ODD.B * ODD.T, ODD.C],
  [1, 1],
  [1, 770],
  [7, 3],
  [2049, 130],
];

describe.each(REDUCTION_VARIANTS as readonly ReductionVariant[])('layernorm, %s variant', (variant) => {
  describe.each([true, false])('with residual gradient: %s', (withRes) => {
    it.for(SHAPES)('N=%i C=%i: forward and backward match the reference, parameter gradients accumulate', async ([N, C]) => {
      await checkLayernorm(variant, withRes, N, C);
    });
  });

  it('repeats its results bit for bit', async () => {
    const [N, C] = [2049, 130];
    const first = await runLayernorm(variant, true, N, C);
    const second = await runLayernorm(variant, true, N, C);
    for (const [k, v] of Object.entries(first)) expect(second[k as keyof typeof first], k).toEqual(v);
  });
});

describe('layernorm variant choice', () => {
  it('runs the cpu variant on CPU adapters and the gpu variant elsewhere, unless told', async () => {
    expect(reductionVariant(gpu)).toBe(gpu.cpu ? 'cpu' : 'gpu');
    expect(reductionVariant(gpu, 'gpu')).toBe('gpu');
    const names = (variant?: ReductionVariant) => {
      const [N, C] = [5, 8];
      const labels: string[] = [];
      const rec = { gpu, dispatch: (_name: string, pipeline: GPUComputePipeline) => labels.push(pipeline.label.split(':')[1]!) };
      const b = zeros(gpu, 'x', N * C);
      const r = rec as unknown as Recorder;
      layernormForward(r, b, b, b, b, b, b, N, C, variant);
      layernormBackward(r, b, b, b, b, null, b, b, b, b, N, C, variant);
      return labels;
    };
    const cpu = ['layernorm_forward', 'layernorm_backward', 'layernorm_backward_params'];
    const gpuKernels = ['layernorm_forward_rows', 'layernorm_backward_rows', 'layernorm_backward_params_partial', 'layernorm_backward_params_combine'];
    expect(names('cpu')).toEqual(cpu);
    expect(names('gpu')).toEqual(gpuKernels);
    expect(names()).toEqual(gpu.cpu ? cpu : gpuKernels);
  });
});

interface Inputs {
  inp: Float32Array;
  weight: Float32Array;
  bias: Float32Array;
  dout: Float32Array;
  dres: Float32Array;
  dweight0: Float32Array;
  dbias0: Float32Array;
}

function inputs(withRes: boolean, N: number, C: number): Inputs {
  const rng = new Rng((withRes ? 3 : 4) + 7 * N + C);
  const inp = randn(rng, N * C, 2);
  for (let i = 0; i < N * C; i++) inp[i]! += 5; // an offset mean tests the centring
  return {
    inp,
    weight: randn(rng, C, 0.3),
    bias: randn(rng, C, 0.3),
    dout: randn(rng, N * C),
    dres: randn(rng, N * C),
    dweight0: randn(rng, C),
    dbias0: randn(rng, C),
  };
}

/** Forward then backward on the GPU; what they wrote. */
async function runLayernorm(variant: ReductionVariant, withRes: boolean, N: number, C: number) {
  const { inp, weight, bias, dout, dres, dweight0, dbias0 } = inputs(withRes, N, C);
  const rng = new Rng(N + C);
  const out = zeros(gpu, 'out', N * C);
  const mean = zeros(gpu, 'mean', N);
  const rstd = zeros(gpu, 'rstd', N);
  const dinp = upload(gpu, 'dinp', randn(rng, N * C)); // garbage: must be overwritten
  const dweight = upload(gpu, 'dweight', dweight0);
  const dbias = upload(gpu, 'dbias', dbias0);
  const inpB = upload(gpu, 'inp', inp);
  const weightB = upload(gpu, 'w', weight);
  await run(gpu, (rec) => {
    layernormForward(rec, out, mean, rstd, inpB, weightB, upload(gpu, 'b', bias), N, C, variant);
    layernormBackward(
      rec,
      dinp,
      dweight,
      dbias,
      upload(gpu, 'dout', dout),
      withRes ? upload(gpu, 'dres', dres) : null,
      inpB,
      weightB,
      mean,
      rstd,
      N,
      C,
      variant,
    );
  });
  return {
    out: await gpu.readF32(out, 0, N * C),
    mean: await gpu.readF32(mean, 0, N),
    rstd: await gpu.readF32(rstd, 0, N),
    dinp: await gpu.readF32(dinp, 0, N * C),
    dweight: await gpu.readF32(dweight, 0, C),
    dbias: await gpu.readF32(dbias, 0, C),
  };
}

async function checkLayernorm(variant: ReductionVariant, withRes: boolean, N: number, C: number): Promise<void> {
  const { inp, weight, bias, dout, dres, dweight0, dbias0 } = inputs(withRes, N, C);
  const got = await runLayernorm(variant, withRes, N, C);

  const expOut = new Float32Array(N * C);
  const expMean = new Float32Array(N);
  const expRstd = new Float32Array(N);
  ref.layernormForward(expOut, expMean, expRstd, inp, weight, bias, N, C);
  const expDinp = new Float32Array(N * C);
  const expDw = dweight0.slice();
  const expDb = dbias0.slice();
  ref.layernormBackward(expDinp, expDw, expDb, dout, withRes ? dres : null, inp, weight, expMean, expRstd, N, C);

  const tol = { rtol: 1e-4, atol: 1e-5 };
  expectClose(got.out, expOut, 'out', tol);
  expectClose(got.mean, expMean, 'mean', tol);
  expectClose(got.rstd, expRstd, 'rstd', tol);
  expectClose(got.dinp, expDinp, 'dinp', tol);
  // Sums over up to 2049 rows of terms near 1: an absolute tolerance to match.
  const sumTol = { rtol: 1e-4, atol: 1e-5 * Math.sqrt(N) };
  expectClose(got.dweight, expDw, 'dweight', sumTol);
  expectClose(got.dbias, expDb, 'dbias', sumTol);
}
