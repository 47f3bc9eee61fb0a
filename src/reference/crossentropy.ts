// Fused softmax + cross-entropy with per-position loss weights.
// Gradient rule: parameter gradients ACCUMULATE (+=), activation gradients
// ASSIGN (=). dlogits is an activation gradient: assigned.
//
// The weights carry both the mask and the normalisation: weight 0 masks a
// position (its target is never read and may be -1, e.g. a prompt token in
// SFT), and the caller puts 1/(number of counted positions) in the others to
// turn the sum of losses into a mean.

import { checkIndex, type Vec } from './types.ts';

/** losses[r] = weights[r] * -log softmax(logits[r,:])[targets[r]]; 0 where weights[r] == 0. */
export function crossentropyForward(
  losses: Vec, // (R)
  logits: Vec, // (R,V)
  targets: Int32Array, // (R)
  weights: Vec, // (R)
  R: number,
  V: number,
): void {
  for (let r = 0; r < R; r++) {
    const w = weights[r];
    if (w === 0) {
      losses[r] = 0;
      continue;
    }
    const target = targets[r];
    checkIndex('target', target, V);
    const x = r * V;
    // -log p_target = logsumexp(logits) - logits[target], max-shifted.
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (logits[x + v] > max) max = logits[x + v];
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[x + v] - max);
    losses[r] = w * (max + Math.log(sum) - logits[x + target]);
  }
}

/**
 * dlogits[r,:] = weights[r] * (softmax(logits[r,:]) - onehot(targets[r])),
 * zeros for masked rows; i.e. d(sum_r losses[r]) / dlogits.
 */
export function crossentropyBackward(
  dlogits: Vec, // (R,V)
  logits: Vec, // (R,V)
  targets: Int32Array, // (R)
  weights: Vec, // (R)
  R: number,
  V: number,
): void {
  for (let r = 0; r < R; r++) {
    const w = weights[r];
    const x = r * V;
    if (w === 0) {
      dlogits.fill(0, x, x + V);
      continue;
    }
    const target = targets[r];
    checkIndex('target', target, V);
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (logits[x + v] > max) max = logits[x + v];
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[x + v] - max);
    for (let v = 0; v < V; v++) {
      const p = Math.exp(logits[x + v] - max) / sum;
      dlogits[x + v] = w * (p - (v === target ? 1 : 0));
    }
  }
}
