import { describe, it, expect } from 'vitest';
import { clipScale, globalNorm } from '../../src/reference/gradnorm.ts';

describe('gradnorm reference', () => {
  it('takes the L2 norm over all tensors together', () => {
    expect(globalNorm([Float64Array.of(3, 4), Float32Array.of(12), new Float64Array(0)])).toBe(13);
    expect(globalNorm([])).toBe(0);
  });

  it('clips by maxNorm / (norm + 1e-6), never scaling up', () => {
    expect(clipScale(13, 1)).toBe(1 / (13 + 1e-6));
    expect(clipScale(0.5, 1)).toBe(1);
    expect(clipScale(0, 1)).toBe(1);
    // Exactly at the limit the 1e-6 still scales, as PyTorch.
    expect(clipScale(1, 1)).toBeLessThan(1);
  });

  it('maxNorm <= 0 turns clipping off', () => {
    expect(clipScale(1e9, 0)).toBe(1);
    expect(clipScale(1e9, -1)).toBe(1);
  });
});
