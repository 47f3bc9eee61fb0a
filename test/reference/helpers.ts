// Finite-difference checking for the CPU references, run in float64.

import { expect } from 'vitest';
import { Rng } from '../../src/reference/random.ts';

/** Central-difference step; with f64 and O(1) values the error is ~1e-10. */
export const FD_STEP = 1e-6;
/** Largest allowed max|analytic - numeric| / max|numeric|. */
export const FD_TOL = 1e-6;

export function randn64(rng: Rng, n: number, std = 1): Float64Array {
  return rng.fillRandn(new Float64Array(n), std);
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** dloss/dx by central differences, perturbing x in place (restored after). */
export function numericGrad(x: Float64Array, loss: () => number, h = FD_STEP): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const orig = x[i];
    x[i] = orig + h;
    const plus = loss();
    x[i] = orig - h;
    const minus = loss();
    x[i] = orig;
    g[i] = (plus - minus) / (2 * h);
  }
  return g;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/**
 * Relative to the largest numeric entry rather than per element: entries that
 * should be exactly zero (masked rows, unused wpe rows) are then still held to
 * the same absolute accuracy instead of dividing by zero.
 */
export function relError(analytic: ArrayLike<number>, numeric: ArrayLike<number>): number {
  let diff = 0;
  for (let i = 0; i < numeric.length; i++) diff = Math.max(diff, Math.abs(analytic[i] - numeric[i]));
  return diff / maxAbs(numeric);
}

export function expectGradClose(name: string, analytic: ArrayLike<number>, numeric: ArrayLike<number>): void {
  expect(analytic.length, `${name} length`).toBe(numeric.length);
  // A zero gradient would make the comparison vacuous.
  expect(maxAbs(numeric), `${name} is non-trivial`).toBeGreaterThan(1e-3);
  expect(relError(analytic, numeric), `${name} relative error`).toBeLessThan(FD_TOL);
}

/** Elementwise closeness with an absolute tolerance. */
export function expectAllClose(name: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-12): void {
  expect(actual.length, `${name} length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
      expect.fail(`${name}[${i}] = ${actual[i]}, expected ${expected[i]} (tol ${tol})`);
    }
  }
}

export function scaled(a: ArrayLike<number>, s: number): Float64Array {
  return Float64Array.from(a, (x) => x * s);
}
