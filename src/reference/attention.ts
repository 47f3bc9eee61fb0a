// Causal multi-head self-attention on a fused QKV tensor.
// Gradient rule: parameter gradients ACCUMULATE (+=), activation gradients
// ASSIGN (=). Attention has no parameters: dqkv is assigned.
//
// Layout: qkv[b,t,:] = [q (C) | k (C) | v (C)]; head h owns channels
// h*HS .. (h+1)*HS of each of q, k and v, and of out.

import type { Vec } from './types.ts';

/**
 * att[b,h,t,t2] = softmax_{t2<=t}(q_t . k_t2 / sqrt(HS)), exactly 0 for t2 > t.
 * out[b,t,h*HS+i] = sum_t2 att[b,h,t,t2] * v[b,t2,h*HS+i].
 * att is saved for the backward pass.
 */
export function attentionForward(
  out: Vec, // (B,T,C)
  att: Vec, // (B,NH,T,T)
  qkv: Vec, // (B,T,3C)
  B: number,
  T: number,
  C: number,
  NH: number,
): void {
  const HS = C / NH;
  const C3 = 3 * C;
  const scale = 1 / Math.sqrt(HS);
  const scores = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const a = (b * NH + h) * T * T;
      for (let t = 0; t < T; t++) {
        const q = (b * T + t) * C3 + h * HS;
        let max = -Infinity;
        for (let t2 = 0; t2 <= t; t2++) {
          const k = (b * T + t2) * C3 + C + h * HS;
          let dot = 0;
          for (let i = 0; i < HS; i++) dot += qkv[q + i] * qkv[k + i];
          scores[t2] = dot * scale;
          if (scores[t2] > max) max = scores[t2];
        }
        // Subtracting the row max keeps exp() in range; softmax is unchanged.
        let sum = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          scores[t2] = Math.exp(scores[t2] - max);
          sum += scores[t2];
        }
        for (let t2 = 0; t2 <= t; t2++) scores[t2] /= sum;
        const row = a + t * T;
        for (let t2 = 0; t2 < T; t2++) att[row + t2] = t2 <= t ? scores[t2] : 0;

        // Weight v with the f64 probabilities rather than re-reading att, which
        // in an f32 run has been rounded.
        const o = (b * T + t) * C + h * HS;
        for (let i = 0; i < HS; i++) {
          let s = 0;
          for (let t2 = 0; t2 <= t; t2++) s += scores[t2] * qkv[(b * T + t2) * C3 + 2 * C + h * HS + i];
          out[o + i] = s;
        }
      }
    }
  }
}

/**
 * dqkv from dout, using the att saved by attentionForward. With
 * datt[t,t2] = dout_t . v_t2 and dpre = att * (datt - sum_t3 att*datt)
 * (the softmax backward), per head:
 *   dq_t  = scale * sum_{t2<=t} dpre[t,t2] k_t2
 *   dk_t2 = scale * sum_{t>=t2} dpre[t,t2] q_t
 *   dv_t2 =         sum_{t>=t2} att[t,t2] dout_t
 * Each output element is gathered in one f64 sum, so no zero-fill is needed.
 */
export function attentionBackward(
  dqkv: Vec, // (B,T,3C)
  dout: Vec, // (B,T,C)
  qkv: Vec, // (B,T,3C)
  att: Vec, // (B,NH,T,T)
  B: number,
  T: number,
  C: number,
  NH: number,
): void {
  const HS = C / NH;
  const C3 = 3 * C;
  const scale = 1 / Math.sqrt(HS);
  const dpre = new Float64Array(T * T); // one head's score gradients; 0 above the diagonal
  const datt = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const a = (b * NH + h) * T * T;
      const qOff = (t: number) => (b * T + t) * C3 + h * HS;
      const kOff = (t: number) => qOff(t) + C;
      const vOff = (t: number) => qOff(t) + 2 * C;
      const oOff = (t: number) => (b * T + t) * C + h * HS;

      for (let t = 0; t < T; t++) {
        let dot = 0; // sum_t2 att * datt
        for (let t2 = 0; t2 <= t; t2++) {
          let s = 0;
          for (let i = 0; i < HS; i++) s += dout[oOff(t) + i] * qkv[vOff(t2) + i];
          datt[t2] = s;
          dot += att[a + t * T + t2] * s;
        }
        for (let t2 = 0; t2 < T; t2++) {
          dpre[t * T + t2] = t2 <= t ? att[a + t * T + t2] * (datt[t2] - dot) : 0;
        }
      }

      for (let t = 0; t < T; t++) {
        for (let i = 0; i < HS; i++) {
          let dq = 0;
          for (let t2 = 0; t2 <= t; t2++) dq += dpre[t * T + t2] * qkv[kOff(t2) + i];
          dqkv[qOff(t) + i] = scale * dq;

          // Here t plays the key/value position; the gather runs over queries t3 >= t.
          let dk = 0;
          let dv = 0;
          for (let t3 = t; t3 < T; t3++) {
            dk += dpre[t3 * T + t] * qkv[qOff(t3) + i];
            dv += att[a + t3 * T + t] * dout[oOff(t3) + i];
          }
          dqkv[kOff(t) + i] = scale * dk;
          dqkv[vOff(t) + i] = dv;
        }
      }
    }
  }
}
