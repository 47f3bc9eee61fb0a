// AdamW with torch.optim.AdamW semantics (decoupled weight decay, bias-corrected
// moments, eps added after the square root).
// Gradient rule: this is an update, not a gradient kernel; params, m and v are
// updated in place and grads is only read.

import type { Vec } from './types.ts';

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled decay; the caller passes 0 for biases and LayerNorm tensors. */
  weightDecay: number;
  /** 1-based: the first update is step 1. */
  step: number;
  /** Multiplier on the gradient, from global-norm clipping; 1 = none. */
  gradScale: number;
}

export function adamwUpdate(
  params: Vec, // (n)
  grads: Vec, // (n)
  m: Vec, // (n) first moment
  v: Vec, // (n) second moment
  n: number,
  h: AdamWHyper,
): void {
  const { lr, beta1, beta2, eps, weightDecay, step, gradScale } = h;
  const bc1 = 1 - Math.pow(beta1, step);
  const bc2 = 1 - Math.pow(beta2, step);
  for (let i = 0; i < n; i++) {
    const g = grads[i] * gradScale;
    const mi = beta1 * m[i] + (1 - beta1) * g;
    const vi = beta2 * v[i] + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    // Decay uses the parameter from before this step's Adam update, as PyTorch.
    let p = params[i];
    p -= lr * weightDecay * p;
    p -= (lr * (mi / bc1)) / (Math.sqrt(vi / bc2) + eps);
    params[i] = p;
  }
}
