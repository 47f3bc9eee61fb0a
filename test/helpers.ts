/** Shared test helpers: one GPU per test file, uploads, and tolerance checks. */
import { expect } from 'vitest';
import { requestGpu, type RequestGpuOptions } from '../src/gpu/device.ts';
import type { Gpu } from '../src/gpu/gpu.ts';
import { Recorder } from '../src/gpu/recorder.ts';
import { Rng } from '../src/reference/random.ts';

export { Rng };

/** Odd shapes, multiples of no tile or workgroup size (issue 2). */
export const ODD = { B: 3, T: 13, C: 72, NH: 3, V: 101 } as const;

export async function testGpu(options: RequestGpuOptions = {}): Promise<Gpu> {
  return requestGpu(options);
}

export function randn(rng: Rng, n: number, std = 1): Float32Array {
  return rng.fillRandn(new Float32Array(n), std);
}

export function upload(gpu: Gpu, label: string, data: Float32Array | Int32Array): GPUBuffer {
  return gpu.createBufferFrom(label, data);
}

export function zeros(gpu: Gpu, label: string, n: number): GPUBuffer {
  return gpu.createBufferFrom(label, new Float32Array(n));
}

/** Record with `fn`, submit, wait. */
export async function run(gpu: Gpu, fn: (rec: Recorder) => void): Promise<void> {
  const rec = new Recorder(gpu);
  fn(rec);
  rec.submit();
  await gpu.idle();
}

/**
 * Every element within atol + rtol*|expected|. Reports the worst element, so a
 * failure says where and by how much.
 */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  label: string,
  { rtol = 1e-5, atol = 1e-6 }: { rtol?: number; atol?: number } = {},
): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    // Equal values pass even at zero tolerance (0/0 would be NaN); NaN never does.
    const diff = Math.abs(a - e);
    const excess = Number.isNaN(diff) ? Infinity : diff === 0 ? 0 : diff / (atol + rtol * Math.abs(e));
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  if (worstExcess > 1) {
    expect.fail(
      `${label}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} ` +
        `(|diff| ${Math.abs(actual[worst]! - expected[worst]!)} > atol ${atol} + rtol ${rtol} * |expected|)`,
    );
  }
}

/** Largest |a - e| / max(|e|) over the arrays: the relative error of a whole tensor. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i]! - expected[i]!));
    maxRef = Math.max(maxRef, Math.abs(expected[i]!));
  }
  return maxDiff / Math.max(maxRef, 1e-30);
}

/**
 * Relative error of trained weights, with the attention key bias reported
 * apart. Its gradient is exactly zero in exact arithmetic (softmax ignores a
 * constant added to every score of a row), so any two implementations feed
 * AdamW different rounding noise there, which it normalises to lr-sized steps.
 * Those entries are only expected to stay within a few steps' worth of lr.
 */
export function trainedWeightsError(
  name: string,
  got: Float32Array,
  want: Float32Array,
  C: number,
): { relative: number; keyBiasDrift: number } {
  if (!name.endsWith('attn.c_attn.bias')) return { relative: relativeError(got, want), keyBiasDrift: 0 };
  let keyBiasDrift = 0;
  for (let i = C; i < 2 * C; i++) keyBiasDrift = Math.max(keyBiasDrift, Math.abs(got[i]! - want[i]!));
  const outsideKey = (_: number, i: number) => i < C || i >= 2 * C;
  return { relative: relativeError(got.filter(outsideKey), want.filter(outsideKey)), keyBiasDrift };
}
