/**
 * Seeded orders for data. Each epoch's order is a pure function of (seed,
 * epoch), so batch k can be rebuilt at any step: a resumed run sees the same
 * batches as one that never stopped.
 */
import { Rng } from './random.ts';

/** A seeded permutation of 0..n-1 for epoch `epoch` (Fisher–Yates). */
export function epochPermutation(n: number, seed: number, epoch: number): Int32Array {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const rng = new Rng((seed * 1000003 + epoch * 7919) >>> 0);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}
