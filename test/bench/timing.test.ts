import { describe, expect, it } from 'vitest';
import { bestRunTimes } from '../../bench/timing.ts';

describe('bestRunTimes', () => {
  it('warms every candidate up once, then takes their timed runs in turn, each its own number of them', async () => {
    const calls: string[] = [];
    const candidate = (name: string, runs: number) => ({ run: async () => void calls.push(name), runs });
    const times = await bestRunTimes([candidate('ours', 2), candidate('tfjs', 3)]);
    expect(calls).toEqual(['ours', 'tfjs', 'ours', 'tfjs', 'ours', 'tfjs', 'tfjs']);
    expect(times).toHaveLength(2);
    for (const t of times) {
      expect(t.ms).toBeGreaterThanOrEqual(0);
      expect(Number.isFinite(t.cpuMs)).toBe(true);
    }
  });

});
