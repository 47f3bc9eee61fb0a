// GELU, tanh approximation (GPT-2's "gelu_new").
// Gradient rule: parameter gradients ACCUMULATE (+=), activation gradients
// ASSIGN (=). GELU has no parameters: dinp is assigned.

import type { Vec } from './types.ts';

const GELU_SCALE = Math.sqrt(2 / Math.PI);
const GELU_CUBE = 0.044715;

/** out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
export function geluForward(out: Vec, inp: Vec, N: number): void {
  for (let i = 0; i < N; i++) {
    const x = inp[i];
    out[i] = 0.5 * x * (1 + Math.tanh(GELU_SCALE * (x + GELU_CUBE * x * x * x)));
  }
}

/** dinp = dout * GELU'(inp) */
export function geluBackward(dinp: Vec, dout: Vec, inp: Vec, N: number): void {
  for (let i = 0; i < N; i++) {
    const x = inp[i];
    const th = Math.tanh(GELU_SCALE * (x + GELU_CUBE * x * x * x));
    const dudx = GELU_SCALE * (1 + 3 * GELU_CUBE * x * x);
    const grad = 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * dudx;
    dinp[i] = dout[i] * grad;
  }
}
