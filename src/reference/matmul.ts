// Dense layer: out = inp @ weight^T + bias, weight stored (N,K) as in
// PyTorch's nn.Linear (note HF GPT-2's Conv1D stores the transpose).
// Gradient rule: parameter gradients ACCUMULATE (+=), activation gradients
// ASSIGN (=): dweight, dbias +=; dinp =.

import type { Vec } from './types.ts';

/** out[m,n] = bias[n] + sum_k inp[m,k] * weight[n,k] */
export function matmulForward(
  out: Vec, // (M,N)
  inp: Vec, // (M,K)
  weight: Vec, // (N,K)
  bias: Vec | null, // (N)
  M: number,
  K: number,
  N: number,
): void {
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = bias === null ? 0 : bias[n];
      for (let k = 0; k < K; k++) s += inp[m * K + k] * weight[n * K + k];
      out[m * N + n] = s;
    }
  }
}

/**
 * dinp = dout @ weight; dweight += dout^T @ inp; dbias += sum_m dout[m,:].
 * dbias may be null when the layer has no bias.
 */
export function matmulBackward(
  dinp: Vec, // (M,K)
  dweight: Vec, // (N,K)
  dbias: Vec | null, // (N)
  dout: Vec, // (M,N)
  inp: Vec, // (M,K)
  weight: Vec, // (N,K)
  M: number,
  K: number,
  N: number,
): void {
  for (let m = 0; m < M; m++) {
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let n = 0; n < N; n++) s += dout[m * N + n] * weight[n * K + k];
      dinp[m * K + k] = s;
    }
  }
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let m = 0; m < M; m++) s += dout[m * N + n] * inp[m * K + k];
      dweight[n * K + k] += s;
    }
  }
  if (dbias !== null) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let m = 0; m < M; m++) s += dout[m * N + n];
      dbias[n] += s;
    }
  }
}
