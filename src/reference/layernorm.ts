// LayerNorm over the last dimension, as GPT-2 (eps 1e-5, biased variance).
// Gradient rule: parameter gradients ACCUMULATE (+=), activation gradients
// ASSIGN (=): dweight, dbias +=; dinp =.

import type { Vec } from './types.ts';

export const LAYERNORM_EPS = 1e-5;

/**
 * out[n,:] = (inp[n,:] - mean[n]) * rstd[n] * weight + bias.
 * mean and rstd are saved for the backward pass.
 */
export function layernormForward(
  out: Vec, // (N,C)
  mean: Vec, // (N)
  rstd: Vec, // (N)
  inp: Vec, // (N,C)
  weight: Vec, // (C)
  bias: Vec, // (C)
  N: number,
  C: number,
): void {
  for (let n = 0; n < N; n++) {
    const x = n * C;
    let sum = 0;
    for (let c = 0; c < C; c++) sum += inp[x + c];
    const m = sum / C;
    // Two-pass variance: E[(x-m)^2] rather than E[x^2]-m^2, which cancels badly.
    let sq = 0;
    for (let c = 0; c < C; c++) {
      const d = inp[x + c] - m;
      sq += d * d;
    }
    const s = 1 / Math.sqrt(sq / C + LAYERNORM_EPS);
    for (let c = 0; c < C; c++) out[x + c] = (inp[x + c] - m) * s * weight[c] + bias[c];
    mean[n] = m;
    rstd[n] = s;
  }
}

/**
 * dinp = (dres ?? 0) + dLN/dinp^T dout.
 *
 * dres is the gradient of the residual stream that `inp` also feeds; adding it
 * here saves the model a separate residual-backward pass. In this reference
 * dres may be the same array as dinp (each element is read before it is
 * written).
 */
export function layernormBackward(
  dinp: Vec, // (N,C)
  dweight: Vec, // (C)
  dbias: Vec, // (C)
  dout: Vec, // (N,C)
  dres: Vec | null, // (N,C)
  inp: Vec, // (N,C)
  weight: Vec, // (C)
  mean: Vec, // (N)
  rstd: Vec, // (N)
  N: number,
  C: number,
): void {
  // Per-row: with xhat = (x - mean) * rstd and g = weight * dout,
  // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)).
  for (let n = 0; n < N; n++) {
    const x = n * C;
    const m = mean[n];
    const s = rstd[n];
    let gMean = 0;
    let gxMean = 0;
    for (let c = 0; c < C; c++) {
      const xhat = (inp[x + c] - m) * s;
      const g = weight[c] * dout[x + c];
      gMean += g;
      gxMean += g * xhat;
    }
    gMean /= C;
    gxMean /= C;
    for (let c = 0; c < C; c++) {
      const xhat = (inp[x + c] - m) * s;
      const g = weight[c] * dout[x + c];
      const res = dres === null ? 0 : dres[x + c];
      dinp[x + c] = res + s * (g - gMean - xhat * gxMean);
    }
  }
  // Parameter gradients reduce over rows; a column-wise f64 sum per channel.
  for (let c = 0; c < C; c++) {
    let dw = 0;
    let db = 0;
    for (let n = 0; n < N; n++) {
      const xhat = (inp[n * C + c] - mean[n]) * rstd[n];
      dw += xhat * dout[n * C + c];
      db += dout[n * C + c];
    }
    dweight[c] += dw;
    dbias[c] += db;
  }
}
