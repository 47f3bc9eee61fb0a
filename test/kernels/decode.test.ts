import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { attentionDecode, decodeEmbed, kvWrite } from '../../src/kernels/decode.ts';
import { vocabWindows } from '../../src/kernels/encoder.ts';
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

/** Row (b,t) of a (B,T,n) tensor, as the (B,n) rows of one decode step. */
function stepRows(x: Float32Array, t: number, n: number): Float32Array {
  const rows = new Float32Array(B * n);
  for (let b = 0; b < B; b++) rows.set(x.subarray((b * T + t) * n, (b * T + t + 1) * n), b * n);
  return rows;
}

describe('decode kernels', () => {
  it('kv_write and attention_decode match the reference at every position, and full causal attention', async () => {
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
        attentionDecode(rec, out, att, rowsB, k, v, shape);
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
    expectClose(await gpu.readF32(k, 0, B * maxT * C), refK, 'k cache', { rtol: 0, atol: 0 });
    expectClose(await gpu.readF32(v, 0, B * maxT * C), refV, 'v cache', { rtol: 0, atol: 0 });
  });

  it('attention_decode at a late position over a cache written elsewhere (large scores)', async () => {
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
        attentionDecode(rec, out, zeros(gpu, 'att', B * NH * maxT), upload(gpu, 'rows', rows), k, v, shape);
      });
      const refK = kc.slice();
      const refV = vc.slice();
      decodeRef.kvWrite(refK, refV, rows, shape);
      const want = new Float32Array(B * C);
      decodeRef.attentionDecode(want, new Float32Array(B * NH * maxT), rows, refK, refV, shape);
      expectClose(await gpu.readF32(out, 0, B * C), want, `out at position ${pos}`, { rtol: 1e-5, atol: 1e-5 });
    }
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
          expectClose(await g.readF32(x, 0, B * C), want, `x at position ${pos}`, { rtol: 0, atol: 0 });
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
      expectClose(await gpu.readF32(k, 0, B * maxT * C), refK, `k cache from ${pos}`, { rtol: 0, atol: 0 });
      expectClose(await gpu.readF32(v, 0, B * maxT * C), refV, `v cache from ${pos}`, { rtol: 0, atol: 0 });
    }
  });

  it('refuses positions outside the cache', async () => {
    const bad = (pos: number, count: number) =>
      run(gpu, (rec) => kvWrite(rec, zeros(gpu, 'k', 4), zeros(gpu, 'v', 4), zeros(gpu, 'q', 4), { B, C, NH, maxT, pos }, count));
    await expect(bad(maxT, 1)).rejects.toThrow(`decode: positions ${maxT}..${maxT} are outside the cache's ${maxT} positions`);
    await expect(bad(4, maxT - 3)).rejects.toThrow(`decode: positions 4..${maxT} are outside the cache's ${maxT} positions`);
  });
});
