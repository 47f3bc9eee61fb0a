import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { attentionBackward, attentionForward } from '../../src/kernels/attention.ts';
import { REDUCTION_VARIANTS, type ReductionVariant } from '../../src/kernels/reduction.ts';
import * as ref from '../../src/reference/index.ts';
import { expectClose, ODD, randn, Rng, run, testGpu, upload, zeros } from '../helpers.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

/** Runs forward then backward in one variant; returns what both wrote. */
async function attention(variant: ReductionVariant, qkv: Float32Array, dout: Float32Array, attInit: Float32Array, B: number, T: number, C: number, NH: number) {
  const out = zeros(gpu, 'out', B * T * C);
  const att = upload(gpu, 'att', attInit);
  const dqkv = upload(gpu, 'dqkv', new Float32Array(B * T * 3 * C).fill(7)); // assigned, so stale values must go
  // garbage too: the softmax backward writes every entry, the masked ones 0
  const scratch = upload(gpu, 'scratch', new Float32Array(B * NH * T * T).fill(-3));
  const qkvB = upload(gpu, 'qkv', qkv);
  await run(gpu, (rec) => {
    attentionForward(rec, out, att, qkvB, B, T, C, NH, variant);
    attentionBackward(rec, dqkv, scratch, upload(gpu, 'dout', dout), qkvB, att, B, T, C, NH, variant);
  });
  return {
    out: await gpu.readF32(out, 0, B * T * C),
    att: await gpu.readF32(att, 0, B * NH * T * T),
    dpre: await gpu.readF32(scratch, 0, B * NH * T * T),
    dqkv: await gpu.readF32(dqkv, 0, B * T * 3 * C),
  };
}

// T of 1, 7, 67 and 130 leave the gpu variant's 32-lane teams part-filled and
// 8-row workgroups partly past the last row (B*NH*T not a multiple of 8).
describe.each(REDUCTION_VARIANTS)('attention, %s variant', (variant) => {
  describe.each([
    ['odd', ODD.B, ODD.T, ODD.C, ODD.NH],
    ['one position', 2, 1, 8, 2],
    ['one head', 1, 5, 6, 1],
    ['T=7', 3, 7, 12, 3],
    ['T=67', 2, 67, 16, 2],
    ['T=130', 1, 130, 24, 3],
  ])('(%s: B=%i T=%i C=%i NH=%i)', (_name, B, T, C, NH) => {
    it('forward and backward match the reference', async () => {
      const rng = new Rng(B * 100 + T);
      const qkv = randn(rng, B * T * 3 * C);
      const dout = randn(rng, B * T * C);
      // garbage: the masked half must be zeroed
      const got = await attention(variant, qkv, dout, randn(rng, B * NH * T * T), B, T, C, NH);
      const expOut = new Float32Array(B * T * C);
      const expAtt = new Float32Array(B * NH * T * T);
      ref.attentionForward(expOut, expAtt, qkv, B, T, C, NH);
      const expDqkv = new Float32Array(B * T * 3 * C);
      ref.attentionBackward(expDqkv, dout, qkv, expAtt, B, T, C, NH);
      const tol = { rtol: 1e-4, atol: 1e-5 };
      expectClose(got.out, expOut, 'out', tol);
      expectClose(got.att, expAtt, 'att', tol);
      expectClose(got.dqkv, expDqkv, 'dqkv', tol);
      // The products after each softmax add the masked half: it must hold exact zeros.
      for (let r = 0; r < B * NH * T; r++) {
        const t = r % T;
        for (let t2 = t + 1; t2 < T; t2++) {
          if (got.att[r * T + t2] !== 0 || got.dpre[r * T + t2] !== 0) {
            expect.fail(`row ${r}, t2=${t2}: att ${got.att[r * T + t2]}, dpre ${got.dpre[r * T + t2]}, want exact 0`);
          }
        }
      }
    });
  });
});

describe('attention variants', () => {
  it('agree with each other and repeat bit for bit', async () => {
    const [B, T, C, NH] = [2, 67, 16, 2];
    const rng = new Rng(5);
    const qkv = randn(rng, B * T * 3 * C);
    const dout = randn(rng, B * T * C);
    const attInit = randn(rng, B * NH * T * T);
    const cpu = await attention('cpu', qkv, dout, attInit, B, T, C, NH);
    const a = await attention('gpu', qkv, dout, attInit, B, T, C, NH);
    const b = await attention('gpu', qkv, dout, attInit, B, T, C, NH);
    for (const k of ['out', 'att', 'dpre', 'dqkv'] as const) {
      expect(Buffer.from(b[k].buffer, b[k].byteOffset, b[k].byteLength).equals(Buffer.from(a[k].buffer, a[k].byteOffset, a[k].byteLength)), `${k} repeats`).toBe(true);
      expectClose(a[k], cpu[k], k, { rtol: 1e-5, atol: 1e-6 });
    }
  });
});
