import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { attentionForward } from '../../src/kernels/attention.ts';
import { attentionDecode, decodeEmbed, kvWrite } from '../../src/kernels/decode.ts';
import { vocabWindows } from '../../src/kernels/encoder.ts';
import { REDUCTION_VARIANTS } from '../../src/kernels/reduction.ts';
import * as ref from '../../src/reference/index.ts';
import * as decodeRef from '../../src/reference/decode.ts';
import { expectClose, ODD, randn, Rng, run, testGpu, upload, zeros } from '../helpers.ts';

// Odd shapes: B=3, C=72, NH=3 (HS=24), caches of 13+2 positions.
const { B, T, C, NH, V } = ODD;
const maxT = T + 2;

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

/**
 * Bit for bit. (expectClose with rtol and atol 0 divides 0 by 0 on equal
 * elements, and the NaN it gets can hide a difference: not a check of equality.)
 */
function expectSame(actual: Float32Array, expected: Float32Array, label: string): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  const i = actual.findIndex((a, j) => !Object.is(a, expected[j]));
  if (i >= 0) expect.fail(`${label}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
}

/** Row (b,t) of a (B,steps,n) tensor, as the (B,n) rows of one decode step. */
function stepRows(x: Float32Array, t: number, n: number, steps: number = T): Float32Array {
  const rows = new Float32Array(B * n);
  for (let b = 0; b < B; b++) rows.set(x.subarray((b * steps + t) * n, (b * steps + t + 1) * n), b * n);
  return rows;
}

describe('decode kernels', () => {
  it.each(REDUCTION_VARIANTS)('%s: kv_write, attention_decode match the reference at every position, and full attention', async (variant) => {
    const rng = new Rng(21);
    const qkv = randn(rng, B * T * 3 * C);
    const full = new Float32Array(B * T * C);
    ref.attentionForward(full, new Float32Array(B * NH * T * T), qkv, B, T, C, NH);

    const k = zeros(gpu, 'k', B * maxT * C);
    const v = zeros(gpu, 'v', B * maxT * C);
    const att = zeros(gpu, 'att', B * NH * maxT);
    const out = zeros(gpu, 'out', B * C);
    const refK = new Float32Array(B * maxT * C);
    const refV = new Float32Array(B * maxT * C);
    for (let pos = 0; pos < T; pos++) {
      const shape = { B, C, NH, maxT, pos };
      const rows = stepRows(qkv, pos, 3 * C);
      const rowsB = upload(gpu, 'rows', rows);
      await run(gpu, (rec) => {
        kvWrite(rec, k, v, rowsB, shape);
        attentionDecode(rec, out, att, rowsB, k, v, shape, variant);
      });
      decodeRef.kvWrite(refK, refV, rows, shape);
      const want = new Float32Array(B * C);
      decodeRef.attentionDecode(want, new Float32Array(B * NH * maxT), rows, refK, refV, shape);
      const got = await gpu.readF32(out, 0, B * C);
      expectClose(got, want, `out at position ${pos}`, { rtol: 1e-5, atol: 1e-6 });
      expectClose(got, stepRows(full, pos, C), `full attention row ${pos}`, { rtol: 1e-5, atol: 1e-6 });
      rowsB.destroy();
    }
    // Every position written went exactly where the reference puts it; the rest is untouched.
    expectSame(await gpu.readF32(k, 0, B * maxT * C), refK, 'k cache');
    expectSame(await gpu.readF32(v, 0, B * maxT * C), refV, 'v cache');
  });

  it.each(REDUCTION_VARIANTS)('%s: attention_decode at a late position over a cache written elsewhere (large scores)', async (variant) => {
    const rng = new Rng(22);
    const kc = randn(rng, B * maxT * C, 3);
    const vc = randn(rng, B * maxT * C);
    const rows = randn(rng, B * 3 * C, 3);
    for (const pos of [0, 5, maxT - 1]) {
      const shape = { B, C, NH, maxT, pos };
      const k = upload(gpu, 'k', kc);
      const v = upload(gpu, 'v', vc);
      const out = zeros(gpu, 'out', B * C);
      await run(gpu, (rec) => {
        kvWrite(rec, k, v, upload(gpu, 'rows', rows), shape);
        attentionDecode(rec, out, zeros(gpu, 'att', B * NH * maxT), upload(gpu, 'rows', rows), k, v, shape, variant);
      });
      const refK = kc.slice();
      const refV = vc.slice();
      decodeRef.kvWrite(refK, refV, rows, shape);
      const want = new Float32Array(B * C);
      decodeRef.attentionDecode(want, new Float32Array(B * NH * maxT), rows, refK, refV, shape);
      expectClose(await gpu.readF32(out, 0, B * C), want, `out at position ${pos}`, { rtol: 1e-5, atol: 1e-5 });
    }
  });

  // Positions past one and two workgroups of 64 lanes (66, 130) and heads past
  // 64 channels (HS = 75: a second pass over channels in the gpu variant);
  // neither HS is a power of two. The gpu variant's softmax sum adds in
  // another order than the serial one; both stay within the tolerance above
  // (f32 against the reference's f64).
  it.each(REDUCTION_VARIANTS)('%s: attention_decode on odd shapes and long caches matches the reference, att included', async (variant) => {
    const rng = new Rng(25);
    for (const [b, c, nh] of [
      [3, 72, 3],
      [1, 300, 4],
    ] as const) {
      const mt = 133;
      const kc = randn(rng, b * mt * c);
      const vc = randn(rng, b * mt * c);
      const rows = randn(rng, b * 3 * c);
      const k = upload(gpu, 'k', kc);
      const v = upload(gpu, 'v', vc);
      const q = upload(gpu, 'rows', rows);
      for (const pos of [0, 1, 66, 130]) {
        const shape = { B: b, C: c, NH: nh, maxT: mt, pos };
        const out = zeros(gpu, 'out', b * c);
        // Marked, to see that nothing past `pos` is written.
        const att = upload(gpu, 'att', new Float32Array(b * nh * mt).fill(7));
        await run(gpu, (rec) => attentionDecode(rec, out, att, q, k, v, shape, variant));
        const want = new Float32Array(b * c);
        const wantAtt = new Float32Array(b * nh * mt).fill(7);
        decodeRef.attentionDecode(want, wantAtt, rows, kc, vc, shape);
        const label = `B=${b} C=${c} NH=${nh} pos=${pos}`;
        expectClose(await gpu.readF32(out, 0, b * c), want, `out, ${label}`, { rtol: 1e-5, atol: 1e-6 });
        expectClose(await gpu.readF32(att, 0, b * nh * mt), wantAtt, `att, ${label}`, { rtol: 1e-5, atol: 1e-7 });
        out.destroy();
        att.destroy();
      }
      for (const x of [k, v, q]) x.destroy();
    }
  });

  // With q and k small multiples of 1/8 every score is exact whatever the
  // order of its sum (and of order 1, so that many terms count in the softmax),
  // so the training pass (gemm, then attention.wgsl's softmax) and a decode
  // step see the same scores: each variant's probabilities must then be the
  // training softmax's of the same variant bit for bit, which is what lets the
  // KV cache reproduce recomputation token for token on either device.
  it.each(REDUCTION_VARIANTS)('%s: attention_decode gives the training softmax bit for bit on exact scores', async (variant) => {
    const rng = new Rng(26);
    const t = 70; // past 64 positions: both the team's stride and the chunks of att.v wrap
    const qkv = Float32Array.from(rng.fillInt(new Int32Array(B * t * 3 * C), 7), (x) => (x - 3) / 8); // (B,t,3C)
    const qkvB = upload(gpu, 'qkv', qkv);
    const full = zeros(gpu, 'full', B * t * C);
    const square = zeros(gpu, 'square', B * NH * t * t);
    const k = zeros(gpu, 'k', B * t * C);
    const v = zeros(gpu, 'v', B * t * C);
    const att = zeros(gpu, 'att', B * NH * t);
    const out = zeros(gpu, 'out', B * C);
    const last = upload(gpu, 'last', stepRows(qkv, t - 1, 3 * C, t));
    const shape = { B, C, NH, maxT: t, pos: t - 1 };
    await run(gpu, (rec) => {
      attentionForward(rec, full, square, qkvB, B, t, C, NH, variant);
      kvWrite(rec, k, v, qkvB, { ...shape, pos: 0 }, t);
      attentionDecode(rec, out, att, last, k, v, shape, variant);
    });
    const trained = await gpu.readF32(square, 0, B * NH * t * t);
    const lastRows = new Float32Array(B * NH * t); // row t-1 of every (b, h) square
    for (let bh = 0; bh < B * NH; bh++) lastRows.set(trained.subarray((bh * t + t - 1) * t, (bh * t + t) * t), bh * t);
    expectSame(await gpu.readF32(att, 0, B * NH * t), lastRows, 'att against the training softmax');
    const want = stepRows(await gpu.readF32(full, 0, B * t * C), t - 1, C, t);
    // att.v: the training gemm may group its sums differently on this device.
    expectClose(await gpu.readF32(out, 0, B * C), want, 'out against the training pass', { rtol: 1e-5, atol: 1e-5 });
  });

  it('decode_embed matches the reference, also with wte bound in vocabulary windows', async () => {
    const split = await testGpu({ maxBindingBytes: 20 * C * 4 });
    try {
      expect(vocabWindows(split, V, C).length).toBeGreaterThan(3);
      const rng = new Rng(23);
      const wte = randn(rng, V * C);
      const wpe = randn(rng, maxT * C);
      const seq = rng.fillInt(new Int32Array(B * maxT), V);
      seq[0 * maxT + 4] = 0;
      seq[1 * maxT + 4] = V - 1; // the last row of the last window
      for (const g of [gpu, split]) {
        for (const pos of [0, 4, maxT - 1]) {
          const shape = { B, C, NH, maxT, pos };
          const x = zeros(g, 'x', B * C);
          const [seqB, wteB, wpeB] = [g.createBufferFrom('seq', seq), g.createBufferFrom('wte', wte), g.createBufferFrom('wpe', wpe)];
          await run(g, (rec) => decodeEmbed(rec, x, seqB, wteB, wpeB, V, shape));
          const want = new Float32Array(B * C);
          decodeRef.decodeEmbed(want, seq, wte, wpe, shape);
          expectSame(await g.readF32(x, 0, B * C), want, `x at position ${pos}`);
        }
      }
    } finally {
      split.destroy();
    }
  });

  it('kv_write of a whole prefix at once (after a batched prefill) matches the reference', async () => {
    const rng = new Rng(24);
    const count = 9;
    const qkv = randn(rng, B * count * 3 * C); // (B,count,3C)
    const kc = randn(rng, B * maxT * C);
    const vc = randn(rng, B * maxT * C);
    for (const pos of [0, 3]) {
      const shape = { B, C, NH, maxT, pos };
      const k = upload(gpu, 'k', kc);
      const v = upload(gpu, 'v', vc);
      await run(gpu, (rec) => kvWrite(rec, k, v, upload(gpu, 'qkv', qkv), shape, count));
      const refK = kc.slice();
      const refV = vc.slice();
      decodeRef.kvWrite(refK, refV, qkv, shape, count);
      expectSame(await gpu.readF32(k, 0, B * maxT * C), refK, `k cache from ${pos}`);
      expectSame(await gpu.readF32(v, 0, B * maxT * C), refV, `v cache from ${pos}`);
    }
  });

  it('refuses positions outside the cache', async () => {
    const bad = (pos: number, count: number) =>
      run(gpu, (rec) => kvWrite(rec, zeros(gpu, 'k', 4), zeros(gpu, 'v', 4), zeros(gpu, 'q', 4), { B, C, NH, maxT, pos }, count));
    await expect(bad(maxT, 1)).rejects.toThrow(`decode: positions ${maxT}..${maxT} are outside the cache's ${maxT} positions`);
    await expect(bad(4, maxT - 3)).rejects.toThrow(`decode: positions 4..${maxT} are outside the cache's ${maxT} positions`);
  });
});
