import { describe, expect, it } from 'vitest';
import { attentionForward } from '../../src/reference/attention.ts';
import { attentionDecode, decodeEmbed, kvWrite } from '../../src/reference/decode.ts';
import { encoderForward } from '../../src/reference/encoder.ts';
import { Rng } from '../../src/reference/random.ts';
import { expectAllClose, randn64 } from './helpers.ts';

// Decoding one position at a time must give, row for row, the full causal
// attention of the whole sequence (src/reference/attention.ts), in f64.
const B = 3, T = 7, C = 12, NH = 3;

/** Row (b,t) of a (B,T,n) tensor as the (B,n) rows of one decode step. */
function stepRows(x: Float64Array, t: number, n: number): Float64Array {
  const rows = new Float64Array(B * n);
  for (let b = 0; b < B; b++) rows.set(x.subarray((b * T + t) * n, (b * T + t + 1) * n), b * n);
  return rows;
}

describe('decode reference', () => {
  it('attention over a KV cache, position by position, equals full causal attention', () => {
    for (const std of [1, 30]) {
      const rng = new Rng(3 + std);
      const qkv = randn64(rng, B * T * 3 * C, std);
      const full = new Float64Array(B * T * C);
      const fullAtt = new Float64Array(B * NH * T * T);
      attentionForward(full, fullAtt, qkv, B, T, C, NH);

      const maxT = T + 2; // caches longer than the sequence
      const k = new Float64Array(B * maxT * C).fill(NaN); // unwritten positions must never be read
      const v = new Float64Array(B * maxT * C).fill(NaN);
      const att = new Float64Array(B * NH * maxT);
      for (let pos = 0; pos < T; pos++) {
        const s = { B, C, NH, maxT, pos };
        const rows = stepRows(qkv, pos, 3 * C);
        kvWrite(k, v, rows, s);
        const out = new Float64Array(B * C);
        attentionDecode(out, att, rows, k, v, s);
        expectAllClose(`out at position ${pos} (std ${std})`, Array.from(out), Array.from(stepRows(full, pos, C)), 1e-12);
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < NH; h++) {
            const got = att.subarray((b * NH + h) * maxT, (b * NH + h) * maxT + pos + 1);
            const want = fullAtt.subarray(((b * NH + h) * T + pos) * T, ((b * NH + h) * T + pos) * T + pos + 1);
            expectAllClose(`att of (${b},${h}) at ${pos}`, Array.from(got), Array.from(want), 1e-12);
          }
        }
      }
      // The caches hold every position's k and v, and nothing past the sequence.
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < maxT; t++) {
          for (let c = 0; c < C; c++) {
            const slot = (b * maxT + t) * C + c;
            if (t < T) {
              expect(k[slot]).toBe(qkv[(b * T + t) * 3 * C + C + c]);
              expect(v[slot]).toBe(qkv[(b * T + t) * 3 * C + 2 * C + c]);
            } else {
              expect(k[slot]).toBeNaN();
            }
          }
        }
      }
    }
  });

  it('writing a prefix of positions at once equals writing them one by one', () => {
    const rng = new Rng(5);
    const qkv = randn64(rng, B * T * 3 * C);
    const maxT = T + 2;
    const one = { k: new Float64Array(B * maxT * C), v: new Float64Array(B * maxT * C) };
    const all = { k: new Float64Array(B * maxT * C), v: new Float64Array(B * maxT * C) };
    for (let pos = 0; pos < T; pos++) kvWrite(one.k, one.v, stepRows(qkv, pos, 3 * C), { B, C, NH, maxT, pos });
    kvWrite(all.k, all.v, qkv, { B, C, NH, maxT, pos: 0 }, T);
    expect(Array.from(all.k)).toEqual(Array.from(one.k));
    expect(Array.from(all.v)).toEqual(Array.from(one.v));
  });

  it('the embedding of each sequence at a position equals the encoder row', () => {
    const rng = new Rng(4);
    const V = 11;
    const wte = randn64(rng, V * C);
    const wpe = randn64(rng, T * C);
    const tokens = rng.fillInt(new Int32Array(B * T), V);
    const full = new Float64Array(B * T * C);
    encoderForward(full, tokens, wte, wpe, B, T, C);
    for (let pos = 0; pos < T; pos++) {
      const x = new Float64Array(B * C);
      decodeEmbed(x, tokens, wte, wpe, { B, C, NH, maxT: T, pos });
      expect(Array.from(x)).toEqual(Array.from(stepRows(full, pos, C)));
    }
    tokens[T + 2] = V;
    expect(() => decodeEmbed(new Float64Array(B * C), tokens, wte, wpe, { B, C, NH, maxT: T, pos: 2 })).toThrow('token id 11 is out of range');
  });
});
