import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { gemm, matmulBackward, matmulForward, type MatmulVariant } from '../../src/kernels/matmul.ts';
import * as ref from '../../src/reference/index.ts';
import { expectClose, ODD, randn, Rng, run, testGpu, upload, zeros } from '../helpers.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

// The model's linear layers at odd sizes: qkv, attention proj, fc, fc proj, and an LM head.
const { B, T, C, V } = ODD;
const SHAPES: [string, number, number, number][] = [
  ['qkv', B * T, C, 3 * C],
  ['fc', B * T, C, 4 * C],
  ['fcproj', B * T, 4 * C, C],
  ['lmhead', B * T, C, V],
  ['tiny', 1, 1, 1],
  ['ragged', 5, 3, 7],
];

describe.each(SHAPES)('matmul %s (M=%i K=%i N=%i)', (_name, M, K, N) => {
  it('forward with bias and backward (dinp assigns, dweight and dbias accumulate)', async () => {
    const rng = new Rng(M * 31 + K * 7 + N);
    const inp = randn(rng, M * K);
    const weight = randn(rng, N * K, 0.1);
    const bias = randn(rng, N, 0.1);
    const dout = randn(rng, M * N);
    const dweight0 = randn(rng, N * K);
    const dbias0 = randn(rng, N);

    const out = zeros(gpu, 'out', M * N);
    const dinp = upload(gpu, 'dinp', randn(rng, M * K)); // garbage: must be overwritten
    const dweight = upload(gpu, 'dweight', dweight0);
    const dbias = upload(gpu, 'dbias', dbias0);
    const [inpB, weightB, biasB, doutB] = [inp, weight, bias, dout].map((a, i) => upload(gpu, `in${i}`, a));
    await run(gpu, (rec) => {
      matmulForward(rec, out, inpB!, weightB!, biasB!, M, K, N);
      matmulBackward(rec, dinp, dweight, dbias, doutB!, inpB!, weightB!, M, K, N);
    });

    const expOut = new Float32Array(M * N);
    ref.matmulForward(expOut, inp, weight, bias, M, K, N);
    const expDinp = new Float32Array(M * K);
    const expDweight = dweight0.slice();
    const expDbias = dbias0.slice();
    ref.matmulBackward(expDinp, expDweight, expDbias, dout, inp, weight, M, K, N);

    const tol = { rtol: 1e-5, atol: 1e-5 };
    expectClose(await gpu.readF32(out, 0, M * N), expOut, 'out', tol);
    expectClose(await gpu.readF32(dinp, 0, M * K), expDinp, 'dinp', tol);
    expectClose(await gpu.readF32(dweight, 0, N * K), expDweight, 'dweight', tol);
    expectClose(await gpu.readF32(dbias, 0, N), expDbias, 'dbias', tol);
  });
});

// Every layout (A and B each stored plain or transposed) in both variants, with
// K, M, N not multiples of 4 where the variant allows it.
const LAYOUTS = [false, true].flatMap((ta) => [false, true].map((tb) => [ta, tb] as const));
describe.each(['scalar', 'vec4'] as MatmulVariant[])('gemm %s variant', (variant) => {
  it.each(LAYOUTS)('TRANS_A=%s TRANS_B=%s, accumulate and bias', async (ta, tb) => {
    // vec4 needs the contiguous dimension of each operand to be a multiple of 4.
    const [M, N, K] = variant === 'vec4' ? [ta ? 12 : 13, tb ? 21 : 24, !ta || tb ? 28 : 27] : [13, 21, 27];
    const rng = new Rng(ta ? 1 : 2 + (tb ? 10 : 0));
    const a = randn(rng, M * K);
    const b = randn(rng, K * N);
    const c0 = randn(rng, M * N);
    const bias = randn(rng, N);
    const c = upload(gpu, 'c', c0);
    await run(gpu, (rec) =>
      gemm(
        rec,
        { binding: c, ld: N },
        { binding: upload(gpu, 'a', a), ld: ta ? M : K, transposed: ta },
        { binding: upload(gpu, 'b', b), ld: tb ? K : N, transposed: tb },
        M,
        N,
        K,
        { accumulate: true, bias: upload(gpu, 'bias', bias), variant },
      ),
    );
    const expected = c0.slice();
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let sum = bias[n]!;
        for (let k = 0; k < K; k++) sum += a[ta ? k * M + m : m * K + k]! * b[tb ? n * K + k : k * N + n]!;
        expected[m * N + n]! += sum;
      }
    }
    expectClose(await gpu.readF32(c, 0, M * N), expected, 'c', { rtol: 1e-5, atol: 1e-5 });
  });
});

describe('gemm addressing', () => {
  it('writes a column window of a wider matrix through offsets and leading dimensions', async () => {
    // logits(R, V) columns [first, first+n) = x(R,C) wte[first:first+n]^T: the LM head's vocabulary windows.
    const R = 7, K = 9, Vw = 23, first = 5, n = 11;
    const rng = new Rng(9);
    const x = randn(rng, R * K);
    const w = randn(rng, Vw * K);
    const sentinel = -123;
    const c = upload(gpu, 'c', new Float32Array(R * Vw).fill(sentinel));
    await run(gpu, (rec) =>
      gemm(
        rec,
        { binding: c, ld: Vw, offset: first },
        { binding: upload(gpu, 'x', x), ld: K },
        { binding: upload(gpu, 'w', w), ld: K, offset: first * K, transposed: true },
        R,
        n,
        K,
      ),
    );
    const got = await gpu.readF32(c, 0, R * Vw);
    for (let r = 0; r < R; r++) {
      for (let j = 0; j < Vw; j++) {
        let expected = sentinel;
        if (j >= first && j < first + n) {
          expected = 0;
          for (let k = 0; k < K; k++) expected += x[r * K + k]! * w[j * K + k]!;
        }
        expect(got[r * Vw + j]).toBeCloseTo(expected, 4);
      }
    }
  });
});
