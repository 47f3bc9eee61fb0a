import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  autotuneMatmul,
  memoryTuningStore,
  parseMatmulPin,
  TUNED_LAYOUTS,
  tuningKey,
  type MatmulTuning,
} from '../../src/kernels/matmul-autotune.ts';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { defaultVariant, matmulVariantsOf, setMatmulVariants } from '../../src/kernels/matmul.ts';
import { testGpu } from '../helpers.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

// Small and two variants, scalar and the device's default: the test checks
// the bookkeeping, not which variant is fast.
const SHAPE = { M: 8, N: 12, K: 16 };

describe('autotuneMatmul', () => {
  it('measures every variant on every layout, applies the fastest and stores it; the next call reads the store', async () => {
    const store = memoryTuningStore();
    const fallback = defaultVariant(gpu);
    expect(fallback).not.toBe('scalar');
    const VARIANTS = ['scalar', fallback] as const;
    const measured = await autotuneMatmul(gpu, { store, shape: SHAPE, variants: VARIANTS, runs: 1, margin: 0.1 });
    expect(measured.source).toBe('measured');
    expect(measured.adapter).toBe(gpu.name);
    expect(measured.timings).toHaveLength(TUNED_LAYOUTS.length * VARIANTS.length);
    for (const layout of TUNED_LAYOUTS) {
      const ms = (v: string) => measured.timings.find((t) => t.layout === layout && t.variant === v)!.ms;
      // the default stays unless scalar beats it by more than the margin
      expect(measured.choice[layout]).toBe(ms('scalar') * 1.1 < ms(fallback) ? 'scalar' : fallback);
    }
    expect(matmulVariantsOf(gpu)).toEqual(measured.choice);

    setMatmulVariants(gpu, {});
    const cached = await autotuneMatmul(gpu, { store, shape: SHAPE, variants: VARIANTS });
    expect(cached.source).toBe('cache');
    expect(cached.choice).toEqual(measured.choice);
    expect(matmulVariantsOf(gpu)).toEqual(measured.choice);
    setMatmulVariants(gpu, {});
  });

  it('measures again when the stored entry is damaged or from other kernels', async () => {
    const store = memoryTuningStore();
    const key = tuningKey(gpu.name, SHAPE);
    store.set(key, '{not json');
    expect((await autotuneMatmul(gpu, { store, shape: SHAPE, variants: ['scalar'], runs: 1 })).source).toBe('measured');
    const stale: Partial<MatmulTuning> = { version: 0, choice: { NN: 'scalar' } };
    store.set(key, JSON.stringify(stale));
    expect((await autotuneMatmul(gpu, { store, shape: SHAPE, variants: ['scalar'], runs: 1 })).source).toBe('measured');
    setMatmulVariants(gpu, {});
  });

  it('takes a pin without measuring', async () => {
    const all = await autotuneMatmul(gpu, { pin: 'bcast' });
    expect(all.source).toBe('pinned');
    expect(all.timings).toEqual([]);
    expect(matmulVariantsOf(gpu)).toEqual({ NT: 'bcast', NN: 'bcast', TN: 'bcast' });
    await autotuneMatmul(gpu, { pin: { NT: 'tiled' } });
    expect(matmulVariantsOf(gpu)).toEqual({ NT: 'tiled' });
    setMatmulVariants(gpu, {});
  });
});

describe('parseMatmulPin', () => {
  it('reads one variant or one per layout, and names what it does not know', () => {
    expect(parseMatmulPin('vec4')).toBe('vec4');
    expect(parseMatmulPin('NT=bcast, NN=vec4')).toEqual({ NT: 'bcast', NN: 'vec4' });
    expect(() => parseMatmulPin('fast')).toThrow(/unknown matmul variant "fast"/);
    expect(() => parseMatmulPin('XY=vec4')).toThrow(/unknown matmul layout "XY"/);
  });
});
