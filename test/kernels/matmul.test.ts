import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import {
  gemm,
  MATMUL_VARIANTS,
  matmulBackward,
  matmulForward,
  matmulForwardGelu,
  matmulVariantsOf,
  setMatmulVariants,
  variantSupported,
  defaultVariant,
  subgroupTiling,
  uniformSuits,
  type MatmulVariant,
  BLOCKED_TILES,
  blockedTileFits,
  skinnySuits,
} from '../../src/kernels/matmul.ts';
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

// Every layout (A and B each stored plain or transposed) in every variant, at
// sizes that are multiples of no tile, vector width or workgroup. Variants
// that read vec4s get leading dimensions padded to a multiple of 4 (the padding
// holds garbage that must not leak in); the others read unpadded operands.
const LAYOUTS = [false, true].flatMap((ta) => [false, true].map((tb) => [ta, tb] as const));
const GEMM_SHAPES: [number, number, number][] = [
  [13, 21, 27],
  [70, 263, 37], // several workgroups of every variant, ragged edges in M, N and K
  [1, 5, 3],
  [97, 250, 29], // matmul_subgroup_wide's blocks in the subgroup variant, ragged in M, N and K
  [300, 200, 333], // the uniform variant's panels: two of A, K over two dispatches, ragged everywhere
  [320, 256, 384], // the same, the operands copied into panels through a texture (strides of 64)
];
const padTo4 = (n: number) => Math.ceil(n / 4) * 4;
describe.each(MATMUL_VARIANTS as readonly MatmulVariant[])('gemm %s variant', (variant) => {
  const aligned = variant === 'vec4' || variant === 'bcast';
  // One pipeline per layout: the shapes share it (compiling dominates on a CPU adapter).
  it.for(LAYOUTS)('TRANS_A=%s TRANS_B=%s, accumulate and bias', async ([ta, tb], ctx) => {
    if (!variantSupported(gpu, variant)) return ctx.skip(`${gpu.name} cannot run the ${variant} variant`);
    for (const [M, N, K] of GEMM_SHAPES) {
      const rng = new Rng(M * 7 + N * 3 + K + (ta ? 1 : 0) + (tb ? 10 : 0));
      // A stored (M,K) or (K,M), B stored (K,N) or (N,K), rows padded to ld.
      const [aRows, aCols] = ta ? [K, M] : [M, K];
      const [bRows, bCols] = tb ? [N, K] : [K, N];
      const lda = aligned ? padTo4(aCols) : aCols;
      const ldb = aligned ? padTo4(bCols) : bCols;
      const a = randn(rng, aRows * lda);
      const b = randn(rng, bRows * ldb);
      const c0 = randn(rng, M * N);
      const bias = randn(rng, N);
      const c = upload(gpu, 'c', c0);
      await run(gpu, (rec) =>
        gemm(
          rec,
          { binding: c, ld: N },
          { binding: upload(gpu, 'a', a), ld: lda, transposed: ta },
          { binding: upload(gpu, 'b', b), ld: ldb, transposed: tb },
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
          for (let k = 0; k < K; k++) sum += a[ta ? k * lda + m : m * lda + k]! * b[tb ? n * ldb + k : k * ldb + n]!;
          expected[m * N + n]! += sum;
        }
      }
      // f32 rounding of a sum of K products grows like sqrt(K); the reference sums in f64.
      const atol = 1e-5 * Math.max(1, Math.sqrt(K / 32));
      expectClose(await gpu.readF32(c, 0, M * N), expected, `c (M=${M} N=${N} K=${K})`, { rtol: 1e-5, atol });
    }
  });

  // Attention's layout: products (outer, inner) = (sequence, head), each head's
  // columns side by side in a row, so that a row holds every head.
  it.for(LAYOUTS)('batched products, TRANS_A=%s TRANS_B=%s', async ([ta, tb], ctx) => {
    if (!variantSupported(gpu, variant)) return ctx.skip(`${gpu.name} cannot run the ${variant} variant`);
    const [outer, inner] = [2, 3];
    const count = outer * inner;
    for (const [M, N, K] of [
      [5, 7, 9],
      [32, 250, 11], // matmul_subgroup_wide in the subgroup variant
    ] as const) {
      const rng = new Rng(M + N + K + (ta ? 1 : 0) + (tb ? 10 : 0));
      const [aRows, aCols] = ta ? [K, M] : [M, K];
      const [bRows, bCols] = tb ? [N, K] : [K, N];
      const [aw, bw, cw] = [padTo4(aCols), padTo4(bCols), padTo4(N)];
      const [lda, ldb, ldc] = [aw * inner, bw * inner, cw * inner];
      const a = randn(rng, outer * aRows * lda);
      const b = randn(rng, outer * bRows * ldb);
      const c0 = randn(rng, outer * M * ldc);
      const bias = randn(rng, N);
      const c = upload(gpu, 'c', c0);
      await run(gpu, (rec) =>
        gemm(
          rec,
          { binding: c, ld: ldc, stride: [M * ldc, cw] },
          { binding: upload(gpu, 'a', a), ld: lda, transposed: ta, stride: [aRows * lda, aw] },
          { binding: upload(gpu, 'b', b), ld: ldb, transposed: tb, stride: [bRows * ldb, bw] },
          M,
          N,
          K,
          { accumulate: true, bias: upload(gpu, 'bias', bias), variant, batch: { count, inner } },
        ),
      );
      const expected = c0.slice();
      for (let z = 0; z < count; z++) {
        const [o, h] = [Math.floor(z / inner), z % inner];
        const [a0, b0, cz] = [o * aRows * lda + h * aw, o * bRows * ldb + h * bw, o * M * ldc + h * cw];
        for (let m = 0; m < M; m++) {
          for (let n = 0; n < N; n++) {
            let sum = bias[n]!;
            for (let k = 0; k < K; k++) sum += a[a0 + (ta ? k * lda + m : m * lda + k)]! * b[b0 + (tb ? n * ldb + k : k * ldb + n)]!;
            expected[cz + m * ldc + n]! += sum;
          }
        }
      }
      expectClose(await gpu.readF32(c, 0, c0.length), expected, `c (M=${M} N=${N} K=${K})`, { rtol: 1e-5, atol: 1e-5 });
    }
  });

  it('assigns without accumulate or bias', async (ctx) => {
    if (!variantSupported(gpu, variant)) return ctx.skip(`${gpu.name} cannot run the ${variant} variant`);
    const [M, N, K] = [9, 12, 8];
    const rng = new Rng(5);
    const a = randn(rng, M * K);
    const b = randn(rng, K * N);
    const c = upload(gpu, 'c', randn(rng, M * N)); // garbage: must be overwritten
    await run(gpu, (rec) =>
      gemm(rec, { binding: c, ld: N }, { binding: upload(gpu, 'a', a), ld: K }, { binding: upload(gpu, 'b', b), ld: N }, M, N, K, {
        variant,
      }),
    );
    const expected = new Float32Array(M * N);
    ref.matmulForward(expected, a, transpose(b, K, N), null, M, K, N);
    expectClose(await gpu.readF32(c, 0, M * N), expected, 'c', { rtol: 1e-5, atol: 1e-5 });
  });
});

// The MLP's fused first layer: out = inp W^T + b and gelu(out), in each variant.
describe.each(MATMUL_VARIANTS as readonly MatmulVariant[])('matmul_forward_gelu, %s variant', (variant) => {
  // N: 292, not a multiple of any block; then a shape the subgroup variant covers with matmul_subgroup_wide.
  const shapes: [number, number, number][] = [
    [B * T, C, 4 * C + 4],
    [97, 29, 250],
  ];
  it.for(shapes)('writes the pre-activation and its GELU (M=%i K=%i N=%i)', async ([M, K, N], ctx) => {
    if (!variantSupported(gpu, variant)) return ctx.skip(`${gpu.name} cannot run the ${variant} variant`);
    const rng = new Rng(17);
    const inp = randn(rng, M * K);
    const weight = randn(rng, N * K, 0.1);
    const bias = randn(rng, N, 0.1);
    const out = zeros(gpu, 'out', M * N);
    const outGelu = upload(gpu, 'outGelu', randn(rng, M * N)); // garbage: must be overwritten
    setMatmulVariants(gpu, { NT: variant });
    try {
      await run(gpu, (rec) =>
        matmulForwardGelu(rec, out, outGelu, upload(gpu, 'inp', inp), upload(gpu, 'w', weight), upload(gpu, 'b', bias), M, K, N),
      );
    } finally {
      setMatmulVariants(gpu, {});
    }
    const expOut = new Float32Array(M * N);
    ref.matmulForward(expOut, inp, weight, bias, M, K, N);
    const expGelu = new Float32Array(M * N);
    ref.geluForward(expGelu, expOut, M * N);
    expectClose(await gpu.readF32(out, 0, M * N), expOut, 'out', { rtol: 1e-5, atol: 1e-5 });
    expectClose(await gpu.readF32(outGelu, 0, M * N), expGelu, 'gelu(out)', { rtol: 1e-5, atol: 1e-5 });
  });
});

/** (rows,cols) row-major to (cols,rows). */
function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) out[k * rows + r] = x[r * cols + k]!;
  return out;
}

describe('variant choice', () => {
  it('runs the subgroup variant only where subgroups hold at least 8 invocations', () => {
    const withSize = (subgroupMinSize: number) => ({ ...gpu, subgroupMinSize }) as Gpu;
    expect(variantSupported(withSize(0), 'subgroup')).toBe(false); // no subgroups feature
    expect(variantSupported(withSize(4), 'subgroup')).toBe(false); // SwiftShader-like 4-wide SIMD
    expect(variantSupported(withSize(8), 'subgroup')).toBe(true);
    expect(variantSupported(withSize(32), 'subgroup')).toBe(true);
    expect(variantSupported(withSize(0), 'vec4')).toBe(true);
    expect(variantSupported(withSize(4), 'uniform')).toBe(false); // it broadcasts across 8 lanes too
    expect(variantSupported(withSize(8), 'uniform')).toBe(true);
  });

  it('runs matmul_uniform for single products that fill its 32 x 256 blocks, else the subgroup variant', async (ctx) => {
    expect(uniformSuits(256, 768, 256)).toBe(true); // mid's qkv
    expect(uniformSuits(300, 200, 333)).toBe(true); // the gemm tests' panels
    expect(uniformSuits(256, 257, 256)).toBe(false); // an LM head: half the second panel idle
    expect(uniformSuits(4, 768, 256)).toBe(false); // a decoding step's few rows
    expect(uniformSuits(256, 768, 256, 8)).toBe(false); // a batch (attention's products)
    expect(uniformSuits(256, 768, 0)).toBe(false);
    if (!variantSupported(gpu, 'uniform')) return ctx.skip(`${gpu.name} cannot run the uniform variant`);
    const names: string[] = [];
    const M = 60;
    const rng = new Rng(4);
    const aValues = randn(rng, M * 130);
    const a = upload(gpu, 'a', aValues);
    // A buffer that cannot be copied from: a caller's own, say.
    const aNoCopy = gpu.createBuffer('a_no_copy', aValues.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    gpu.write(aNoCopy, aValues);
    const b = upload(gpu, 'b', randn(rng, 130 * 256));
    const c = zeros(gpu, 'c', M * 256);
    for (const [N, K, aBuffer] of [
      [256, 130, a],
      [20, 130, a],
      [256, 128, a],
      [256, 128, aNoCopy],
    ] as const) {
      await run(gpu, (rec) => {
        const dispatch = rec.dispatch.bind(rec);
        rec.dispatch = (name, pipeline, ...rest) => {
          names.push(pipeline.label.split(':')[1]!);
          return dispatch(name, pipeline, ...rest);
        };
        gemm(rec, { binding: c, ld: N }, { binding: aBuffer, ld: K }, { binding: b, ld: N }, M, N, K, { variant: 'uniform' });
      });
    }
    // K=130: A and B packed by matmul_pack, one dispatch (3 windows of 64); the
    // narrow C in matmul_subgroup; K=128, rows 128 and 256 apart: both copied
    // into their panels (no dispatch), then one dispatch; the same with A in a
    // buffer without COPY_SRC: A packed.
    expect(names).toEqual([
      'matmul_pack',
      'matmul_pack',
      'matmul_uniform',
      'matmul_subgroup',
      'matmul_uniform',
      'matmul_pack',
      'matmul_uniform',
    ]);
    const expected = new Float32Array(M * 256);
    const bValues = await gpu.readF32(b, 0, 128 * 256);
    ref.matmulForward(expected, aValues.subarray(0, M * 128), transpose(bValues, 128, 256), null, M, 128, 256);
    expectClose(await gpu.readF32(c, 0, M * 256), expected, 'c from the packed A', { rtol: 1e-5, atol: 1e-5 });
  });

  it('covers C with matmul_subgroup_wide blocks where C fills them, else with matmul_subgroup', () => {
    const entry = (M: number, N: number) => subgroupTiling(M, N).entry;
    expect(entry(256, 768)).toBe('matmul_subgroup_wide'); // mid's qkv
    expect(entry(97, 250)).toBe('matmul_subgroup_wide'); // the gemm tests' ragged shape
    expect(entry(256, 257)).toBe('matmul_subgroup'); // an LM head: half the second block idle
    expect(entry(256, 64)).toBe('matmul_subgroup'); // narrow
    expect(entry(4, 768)).toBe('matmul_subgroup'); // a decoding step's few rows
    expect(subgroupTiling(256, 257)).toMatchObject({ cols: 96, lanes: 48 }); // three workgroups across, 31 columns idle
    expect(subgroupTiling(256, 64)).toMatchObject({ cols: 64, lanes: 64 });
    expect(subgroupTiling(64, 32)).toMatchObject({ cols: 32, lanes: 32 }); // a head of 32 channels: no idle lanes
    expect(subgroupTiling(9, 12)).toMatchObject({ cols: 16, lanes: 16 });
  });

  it('follows setMatmulVariants per layout, falling back where the operands or the shape do not suit the variant', async () => {
    const K = 7; // A (M,K) is not vec4-addressable, B (K,N) with ld 260 is
    const M = 5;
    const rng = new Rng(3);
    const a = upload(gpu, 'a', randn(rng, M * K));
    const b = upload(gpu, 'b', randn(rng, K * 260));
    const c = zeros(gpu, 'c', M * 260);
    const names: string[] = [];
    const record = (N: number) =>
      run(gpu, (rec) => {
        const dispatch = rec.dispatch.bind(rec);
        rec.dispatch = (name, pipeline, ...rest) => {
          names.push(pipeline.label);
          return dispatch(name, pipeline, ...rest);
        };
        gemm(rec, { binding: c, ld: N }, { binding: a, ld: K }, { binding: b, ld: 260 }, M, N, K);
      });
    expect(matmulVariantsOf(gpu)).toEqual({}); // tests run the deterministic default unless they choose
    await record(260);
    setMatmulVariants(gpu, { NN: 'bcast' });
    await record(260);
    await record(6); // too narrow for bcast's 256 columns a workgroup
    setMatmulVariants(gpu, { NN: 'vec4', NT: 'tiled' });
    await record(260);
    setMatmulVariants(gpu, {});
    // Untuned or where the choice does not fit: the device's default, uniform on
    // lavapipe (any operands; at M=5, through the subgroup variant), else vec4,
    // which K=7 rules out here: scalar.
    const fallback = defaultVariant(gpu) === 'uniform' ? 'matmul_subgroup' : 'matmul';
    expect(names.map((l) => l.split(':')[1])).toEqual([fallback, 'matmul_bcast', fallback, fallback]);
  });
});

describe('gemm addressing', () => {
  it('refuses a batch without a positive whole count', async () => {
    const buf = zeros(gpu, 'x', 4);
    const op = { binding: buf, ld: 1 };
    for (const batch of [{ count: 0 }, { count: 2.5 }, { count: 4, inner: 0 }]) {
      await expect(run(gpu, (rec) => gemm(rec, op, op, op, 1, 1, 1, { batch, name: 'probe' }))).rejects.toThrow(
        /probe: a batch needs a positive whole count/,
      );
    }
  });

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

// Every tile of the blocked variant, on shapes ragged against all of them: rows
// and columns that leave partial blocks, K that leaves a partial panel, and
// several panels of K (the loads of the next panel overlap the multiply).
// With split-K, K is cut into slices (each a multiple of the panel depth but
// the last) whose partial products are summed by a second dispatch.
const BLOCKED_PLANS = BLOCKED_TILES.flatMap((t) => [1, 3].map((splits) => [`${8 * t.wgY}x${8 * t.wgX} (BK ${t.bk}), ${splits} slice(s) of K`, t, splits] as const));
describe.each(BLOCKED_PLANS)('gemm blocked tile %s', (_name, tile, splits) => {
  it.for(LAYOUTS)('TRANS_A=%s TRANS_B=%s, accumulate and bias', async ([ta, tb], ctx) => {
    if (!blockedTileFits(gpu, tile)) return ctx.skip(`${gpu.name}'s workgroups cannot hold this tile`);
    for (const [M, N, K] of [
      [1, 1, 1],
      [130, 67, 37],
      [67, 129, 50],
    ] as const) {
      const rng = new Rng(M * 5 + N * 3 + K + (ta ? 1 : 0) + (tb ? 10 : 0));
      const [aRows, aCols] = ta ? [K, M] : [M, K];
      const [bRows, bCols] = tb ? [N, K] : [K, N];
      // Odd leading dimensions with padding that holds garbage, and offsets into the buffers.
      const [lda, ldb, offA, offB] = [aCols + 3, bCols + 1, 5, 2];
      const a = randn(rng, offA + aRows * lda);
      const b = randn(rng, offB + bRows * ldb);
      const c0 = randn(rng, M * N);
      const bias = randn(rng, N);
      const c = upload(gpu, 'c', c0);
      await run(gpu, (rec) =>
        gemm(
          rec,
          { binding: c, ld: N },
          { binding: upload(gpu, 'a', a), ld: lda, offset: offA, transposed: ta },
          { binding: upload(gpu, 'b', b), ld: ldb, offset: offB, transposed: tb },
          M,
          N,
          K,
          { accumulate: true, bias: upload(gpu, 'bias', bias), variant: 'blocked', blocked: { tile, splits } },
        ),
      );
      const expected = c0.slice();
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let sum = bias[n]!;
          for (let k = 0; k < K; k++) sum += a[offA + (ta ? k * lda + m : m * lda + k)]! * b[offB + (tb ? n * ldb + k : k * ldb + n)]!;
          expected[m * N + n]! += sum;
        }
      }
      const atol = 1e-5 * Math.max(1, Math.sqrt(K / 32));
      expectClose(await gpu.readF32(c, 0, M * N), expected, `c (M=${M} N=${N} K=${K})`, { rtol: 1e-5, atol });
    }
  });
});

// The blocked variant's path for a few rows of A (decoding): lanes along k
// with B stored (N,K), a lane per column with B stored (K,N); columns that
// leave a workgroup partly empty, K not a multiple of its 64 lanes.
describe('gemm blocked variant, a few rows (matmul_skinny)', () => {
  it.for([false, true])('TRANS_B=%s, accumulate, bias and gelu', async (tb, ctx) => {
    if (!variantSupported(gpu, 'blocked')) return ctx.skip(`${gpu.name} cannot run the blocked variant`);
    for (const [M, N, K] of [
      [1, 1, 1],
      [4, 67, 130],
      [8, 5, 63],
      [3, 300, 200],
    ] as const) {
      expect(skinnySuits({ binding: null as never, ld: K }, M), "these shapes take matmul_skinny").toBe(true);
      const rng = new Rng(M * 13 + N + K + (tb ? 7 : 0));
      const ldb = (tb ? K : N) + 2; // padded rows holding garbage
      const a = randn(rng, M * K);
      const b = randn(rng, (tb ? N : K) * ldb);
      const c0 = randn(rng, M * N);
      const bias = randn(rng, N);
      const c = upload(gpu, 'c', c0);
      const act = zeros(gpu, 'act', M * N);
      await run(gpu, (rec) =>
        gemm(rec, { binding: c, ld: N }, { binding: upload(gpu, 'a', a), ld: K }, { binding: upload(gpu, 'b', b), ld: ldb, transposed: tb }, M, N, K, {
          accumulate: true,
          bias: upload(gpu, 'bias', bias),
          geluOut: act,
          variant: 'blocked',
        }),
      );
      const expected = c0.slice();
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let sum = bias[n]!;
          for (let k = 0; k < K; k++) sum += a[m * K + k]! * b[tb ? n * ldb + k : k * ldb + n]!;
          expected[m * N + n]! += sum;
        }
      }
      const expectedAct = new Float32Array(M * N);
      ref.geluForward(expectedAct, expected, M * N);
      const atol = 1e-5 * Math.max(1, Math.sqrt(K / 32));
      expectClose(await gpu.readF32(c, 0, M * N), expected, `c (M=${M} N=${N} K=${K})`, { rtol: 1e-5, atol });
      expectClose(await gpu.readF32(act, 0, M * N), expectedAct, `gelu (M=${M} N=${N} K=${K})`, { rtol: 1e-5, atol });
    }
  });

  // Decoding runs a few rows through matmul_skinny; recomputing the prefix runs
  // them inside a blocked tile. Generation's tests want the same tokens from both.
  it.for([false, true])('TRANS_B=%s: the same sums, to the bit, as a blocked tile', async (tb, ctx) => {
    if (!variantSupported(gpu, 'blocked')) return ctx.skip(`${gpu.name} cannot run the blocked variant`);
    const [M, N, K] = [4, 70, 300];
    const rng = new Rng(tb ? 3 : 4);
    const a = upload(gpu, 'a', randn(rng, M * K));
    const b = upload(gpu, 'b', randn(rng, N * K));
    const bias = upload(gpu, 'bias', randn(rng, N));
    const [skinny, tiled] = [zeros(gpu, 'skinny', M * N), zeros(gpu, 'tiled', M * N)];
    const bOp = { binding: b, ld: tb ? K : N, transposed: tb };
    await run(gpu, (rec) => {
      gemm(rec, { binding: skinny, ld: N }, { binding: a, ld: K }, bOp, M, N, K, { bias, variant: 'blocked' });
      gemm(rec, { binding: tiled, ld: N }, { binding: a, ld: K }, bOp, M, N, K, {
        bias,
        variant: 'blocked',
        blocked: { tile: BLOCKED_TILES[BLOCKED_TILES.length - 1]!, splits: 1 },
      });
    });
    expect([...(await gpu.readF32(skinny, 0, M * N))]).toEqual([...(await gpu.readF32(tiled, 0, M * N))]);
  });
});
