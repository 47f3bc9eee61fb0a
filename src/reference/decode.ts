// Incremental decoding with a KV cache: the CPU spec of shaders/decode.wgsl.
// Forward only (generation needs no gradients). Every sequence of the batch
// processes its token at the same position `pos` (lock-step decoding, see
// src/model/generate.ts); positions 0..pos-1 of the caches hold the keys and
// values of the tokens before it.
//
// Layouts: seq (B,maxT) token ids; qkv (B,3C) = [q | k | v] of this position's
// token; kcache, vcache (B,maxT,C); head h owns channels h*HS .. (h+1)*HS.
// Decoding positions 0..T-1 one at a time gives, row for row, what
// attentionForward gives for the whole (B,T) batch at once.

import { checkIndex, type Vec } from './types.ts';

export interface DecodeShape {
  B: number;
  C: number;
  NH: number;
  /** positions held by the caches and `seq` */
  maxT: number;
  /** position of the token being processed */
  pos: number;
}

/** x[b,:] = wte[seq[b,pos],:] + wpe[pos,:] */
export function decodeEmbed(
  x: Vec, // (B,C)
  seq: Int32Array, // (B,maxT)
  wte: Vec, // (V,C)
  wpe: Vec, // (maxT,C)
  s: DecodeShape,
): void {
  const { B, C, maxT, pos } = s;
  const V = wte.length / C;
  for (let b = 0; b < B; b++) {
    const token = seq[b * maxT + pos]!;
    checkIndex('token id', token, V);
    for (let c = 0; c < C; c++) x[b * C + c] = wte[token * C + c]! + wpe[pos * C + c]!;
  }
}

/**
 * kcache[b,pos+t,:] = k of qkv[b,t]; vcache[b,pos+t,:] = v of qkv[b,t], for
 * t < count (1 in a decode step; a prompt prefix after a batched prefill).
 */
export function kvWrite(
  kcache: Vec, // (B,maxT,C)
  vcache: Vec, // (B,maxT,C)
  qkv: Vec, // (B,count,3C)
  s: DecodeShape,
  count = 1,
): void {
  const { B, C, maxT, pos } = s;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < count; t++) {
      const row = (b * count + t) * 3 * C;
      for (let c = 0; c < C; c++) {
        kcache[(b * maxT + pos + t) * C + c] = qkv[row + C + c]!;
        vcache[(b * maxT + pos + t) * C + c] = qkv[row + 2 * C + c]!;
      }
    }
  }
}

/**
 * att[b,h,t2] = softmax_{t2<=pos}(q_b . kcache[b,t2] / sqrt(HS)) over the
 * positions written so far (this one included, so kvWrite comes first);
 * out[b,h*HS+i] = sum_t2 att[b,h,t2] vcache[b,t2,h*HS+i].
 */
export function attentionDecode(
  out: Vec, // (B,C)
  att: Vec, // (B,NH,maxT) probabilities at t2 <= pos; the rest untouched
  qkv: Vec, // (B,3C) reads q
  kcache: Vec, // (B,maxT,C)
  vcache: Vec, // (B,maxT,C)
  s: DecodeShape,
): void {
  const { B, C, NH, maxT, pos } = s;
  const HS = C / NH;
  const scale = 1 / Math.sqrt(HS);
  const scores = new Float64Array(pos + 1);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const q = b * 3 * C + h * HS;
      const cache = b * maxT * C + h * HS;
      let max = -Infinity;
      for (let t2 = 0; t2 <= pos; t2++) {
        let dot = 0;
        for (let i = 0; i < HS; i++) dot += qkv[q + i]! * kcache[cache + t2 * C + i]!;
        scores[t2] = dot * scale;
        if (scores[t2]! > max) max = scores[t2]!;
      }
      // Subtracting the row max keeps exp() in range; softmax is unchanged.
      let sum = 0;
      for (let t2 = 0; t2 <= pos; t2++) {
        scores[t2] = Math.exp(scores[t2]! - max);
        sum += scores[t2]!;
      }
      for (let t2 = 0; t2 <= pos; t2++) {
        scores[t2] = scores[t2]! / sum;
        att[(b * NH + h) * maxT + t2] = scores[t2]!;
      }
      for (let i = 0; i < HS; i++) {
        let acc = 0;
        for (let t2 = 0; t2 <= pos; t2++) acc += scores[t2]! * vcache[cache + t2 * C + i]!;
        out[b * C + h * HS + i] = acc;
      }
    }
  }
}
