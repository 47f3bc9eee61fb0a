import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { attentionDecode, kvWrite } from '../../src/kernels/decode.ts';
import * as ref from '../../src/reference/index.ts';
import { expectClose, ODD, randn, Rng, run, testGpu, upload, zeros } from '../helpers.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

describe('attention over a KV cache', () => {
  it('writes each position into the cache and matches full causal attention at every position', async () => {
    const { B, T, C, NH } = ODD;
    const maxT = T + 2;
    const rng = new Rng(21);
    const qkv = randn(rng, B * T * 3 * C);
    const expOut = new Float32Array(B * T * C);
    ref.attentionForward(expOut, new Float32Array(B * NH * T * T), qkv, B, T, C, NH);

    const k = zeros(gpu, 'k', B * maxT * C);
    const v = zeros(gpu, 'v', B * maxT * C);
    const att = zeros(gpu, 'att', B * NH * maxT);
    for (let pos = 0; pos < T; pos++) {
      // this position's qkv rows, (B,3C)
      const rows = new Float32Array(B * 3 * C);
      for (let b = 0; b < B; b++) rows.set(qkv.subarray((b * T + pos) * 3 * C, (b * T + pos + 1) * 3 * C), b * 3 * C);
      const out = zeros(gpu, 'out', B * C);
      const shape = { B, C, NH, maxT, pos };
      const rowsB = upload(gpu, 'rows', rows);
      await run(gpu, (rec) => {
        kvWrite(rec, k, v, rowsB, shape);
        attentionDecode(rec, out, att, rowsB, k, v, shape);
      });
      const expected = new Float32Array(B * C);
      for (let b = 0; b < B; b++) expected.set(expOut.subarray((b * T + pos) * C, (b * T + pos + 1) * C), b * C);
      expectClose(await gpu.readF32(out, 0, B * C), expected, `out at position ${pos}`, { rtol: 1e-5, atol: 1e-6 });
    }
    // the caches hold k and v of every position written
    const kc = await gpu.readF32(k, 0, B * maxT * C);
    for (let b = 0; b < B; b++) {
      const pos = T - 1;
      const got = kc.subarray((b * maxT + pos) * C, (b * maxT + pos + 1) * C);
      const want = qkv.subarray((b * T + pos) * 3 * C + C, (b * T + pos) * 3 * C + 2 * C);
      expectClose(got, want, `k cache of sequence ${b}`, { rtol: 0, atol: 0 });
    }
  });
});
