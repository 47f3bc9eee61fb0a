// Residual add.
// Gradient rule: parameter gradients ACCUMULATE (+=), activation gradients
// ASSIGN (=). Both gradients here are activation gradients.

import type { Vec } from './types.ts';

/** out = a + b */
export function residualForward(out: Vec, a: Vec, b: Vec, N: number): void {
  for (let i = 0; i < N; i++) out[i] = a[i] + b[i];
}

/**
 * da = db = dout: an add passes its gradient through unchanged.
 * The model never launches this: the residual stream's gradient is fused into
 * layernormBackward's `dres` term. It exists to complete the spec.
 */
export function residualBackward(da: Vec, db: Vec, dout: Vec, N: number): void {
  for (let i = 0; i < N; i++) {
    da[i] = dout[i];
    db[i] = dout[i];
  }
}
