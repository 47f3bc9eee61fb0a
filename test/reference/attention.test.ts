import { describe, it, expect } from 'vitest';
import { attentionBackward, attentionForward } from '../../src/reference/attention.ts';
import { Rng } from '../../src/reference/random.ts';
import { dot, expectAllClose, expectGradClose, numericGrad, randn64 } from './helpers.ts';

const B = 2, T = 5, C = 12, NH = 3;

describe('attention reference', () => {
  it('with q = 0 attends uniformly to the past: out is the running mean of v', () => {
    const rng = new Rng(5);
    const qkv = randn64(rng, B * T * 3 * C);
    for (let bt = 0; bt < B * T; bt++) qkv.fill(0, bt * 3 * C, bt * 3 * C + C);
    const out = new Float64Array(B * T * C);
    const att = new Float64Array(B * NH * T * T).fill(NaN);
    attentionForward(out, att, qkv, B, T, C, NH);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < NH; h++) {
        for (let t = 0; t < T; t++) {
          const row = Array.from(att.subarray(((b * NH + h) * T + t) * T, ((b * NH + h) * T + t + 1) * T));
          expectAllClose('att row', row, row.map((_, t2) => (t2 <= t ? 1 / (t + 1) : 0)));
        }
      }
      for (let t = 0; t < T; t++) {
        for (let c = 0; c < C; c++) {
          let s = 0;
          for (let t2 = 0; t2 <= t; t2++) s += qkv[(b * T + t2) * 3 * C + 2 * C + c];
          expect(out[(b * T + t) * C + c]).toBeCloseTo(s / (t + 1), 12);
        }
      }
    }
  });

  it('att rows are probability distributions over the past, exactly 0 above the diagonal', () => {
    const rng = new Rng(6);
    // Large scores too: the max shift must keep exp() finite.
    for (const std of [1, 100]) {
      const qkv = randn64(rng, B * T * 3 * C, std);
      const att = new Float64Array(B * NH * T * T).fill(NaN);
      const out = new Float64Array(B * T * C);
      attentionForward(out, att, qkv, B, T, C, NH);
      for (let r = 0; r < B * NH * T; r++) {
        const t = r % T;
        let sum = 0;
        for (let t2 = 0; t2 < T; t2++) {
          const p = att[r * T + t2];
          if (t2 > t) expect(p).toBe(0);
          else expect(p).toBeGreaterThanOrEqual(0);
          sum += p;
        }
        expect(sum).toBeCloseTo(1, 12);
      }
      expect(out.every(Number.isFinite)).toBe(true);
    }
  });

  it('scales scores by 1/sqrt(HS) (hand case, T=2, one head)', () => {
    // HS = 4; q1 . k0 = 4 -> score 2, q1 . k1 = 0 -> score 0.
    const q = [0, 0, 0, 0, 1, 1, 1, 1];
    const k = [1, 1, 1, 1, 0, 0, 0, 0];
    const v = [1, 0, 0, 0, 0, 1, 0, 0];
    const qkv = new Float64Array(2 * 12);
    for (let t = 0; t < 2; t++) {
      for (let i = 0; i < 4; i++) {
        qkv[t * 12 + i] = q[t * 4 + i];
        qkv[t * 12 + 4 + i] = k[t * 4 + i];
        qkv[t * 12 + 8 + i] = v[t * 4 + i];
      }
    }
    const att = new Float64Array(4);
    const out = new Float64Array(8);
    attentionForward(out, att, qkv, 1, 2, 4, 1);
    const p0 = Math.exp(2) / (Math.exp(2) + 1);
    expectAllClose('att', att, [1, 0, p0, 1 - p0]);
    expectAllClose('out', out, [1, 0, 0, 0, p0, 1 - p0, 0, 0]);
  });

  it('backward matches finite differences for q, k and v', () => {
    const rng = new Rng(7);
    const qkv = randn64(rng, B * T * 3 * C);
    const R = randn64(rng, B * T * C);
    const out = new Float64Array(B * T * C);
    const att = new Float64Array(B * NH * T * T);
    const loss = () => {
      attentionForward(out, att, qkv, B, T, C, NH);
      return dot(out, R);
    };
    loss();
    const dqkv = new Float64Array(B * T * 3 * C);
    attentionBackward(dqkv, R, qkv, att, B, T, C, NH);
    const numeric = numericGrad(qkv, loss);
    // Check the three parts separately so each is held to the tolerance on its own scale.
    const part = (g: Float64Array, p: number) => g.filter((_, i) => Math.floor((i % (3 * C)) / C) === p);
    expectGradClose('dq', part(dqkv, 0), part(numeric, 0));
    expectGradClose('dk', part(dqkv, 1), part(numeric, 1));
    expectGradClose('dv', part(dqkv, 2), part(numeric, 2));
  });

  it('assigns dqkv', () => {
    const rng = new Rng(8);
    const qkv = randn64(rng, B * T * 3 * C);
    const R = randn64(rng, B * T * C);
    const att = new Float64Array(B * NH * T * T);
    attentionForward(new Float64Array(B * T * C), att, qkv, B, T, C, NH);
    const dqkv = new Float64Array(B * T * 3 * C).fill(NaN);
    attentionBackward(dqkv, R, qkv, att, B, T, C, NH);
    const once = dqkv.slice();
    attentionBackward(dqkv, R, qkv, att, B, T, C, NH);
    expectAllClose('dqkv', dqkv, once);
  });
});
