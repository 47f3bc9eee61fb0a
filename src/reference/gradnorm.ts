// Global gradient norm and the clipping factor, as torch.nn.utils.clip_grad_norm_.
// The factor is not applied here: AdamW takes it as gradScale, saving a pass
// over every gradient.

import type { Vec } from './types.ts';

/** sqrt(sum of squares over every element of every tensor). */
export function globalNorm(grads: Vec[]): number {
  let sq = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  return Math.sqrt(sq);
}

/** min(1, maxNorm / (norm + 1e-6)); maxNorm <= 0 turns clipping off. */
export function clipScale(norm: number, maxNorm: number): number {
  return maxNorm > 0 ? Math.min(1, maxNorm / (norm + 1e-6)) : 1;
}
