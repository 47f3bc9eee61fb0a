/**
 * Timing for the bench: the best of several runs, with peers interleaved.
 *
 * The best run rather than the median: on a shared machine the slower runs
 * measure the other jobs. Interleaved (ours, tfjs, ours, tfjs, ...) rather
 * than one after the other: the CPU machines this runs on drift by up to 2x
 * within minutes, and a drift between two back-to-back series would land in
 * the ratio; taken in turn, every candidate sees the same spells.
 *
 * A run may measure its own GPU time (timestamp queries) and return it; the
 * wall clock and CPU time around it are taken all the same.
 */

/** The best of the timed runs, by each clock: wall-clock, this process's CPU, and the GPU's own where the runs report it. */
export interface RunTime {
  ms: number;
  cpuMs: number;
  /** the least GPU milliseconds a run returned; absent where the runs return none */
  gpuMs?: number;
}

/**
 * Which clock a figure was read from. 'gpu-timestamps': the GPU's own, from
 * timestamp queries, no readback of results; 'wall': performance.now()
 * around the run, results read back (where there are no timestamp queries).
 */
export type Clock = 'gpu-timestamps' | 'wall';

/** What one run resolves to: its GPU milliseconds where it measures them, else nothing. */
export type RunResult = number | void;

export interface TimedCandidate {
  /** one run, awaited to completion (read back what a user would wait for) */
  run: () => Promise<RunResult>;
  /** timed runs, after one untimed run that compiles */
  runs: number;
}

/** One candidate's run and the release of what it holds (operands, models). */
export interface Runner {
  run: () => Promise<RunResult>;
  dispose: () => void;
}

/** Each candidate's best timed run, the candidates' runs taken in turn. */
export async function bestRunTimes(candidates: readonly TimedCandidate[]): Promise<RunTime[]> {
  for (const c of candidates) await c.run();
  const best: RunTime[] = candidates.map(() => ({ ms: Infinity, cpuMs: Infinity }));
  const rounds = Math.max(0, ...candidates.map((c) => c.runs));
  for (let r = 0; r < rounds; r++) {
    for (const [i, c] of candidates.entries()) {
      if (r >= c.runs) continue;
      const cpu = process.cpuUsage();
      const start = performance.now();
      const gpuMs = await c.run();
      const ms = performance.now() - start;
      const used = process.cpuUsage(cpu);
      const b = best[i]!;
      b.ms = Math.min(b.ms, ms);
      b.cpuMs = Math.min(b.cpuMs, (used.user + used.system) / 1000);
      // A run whose timestamps were unusable (NaN) leaves the best of the others.
      if (typeof gpuMs === 'number') b.gpuMs = Math.min(b.gpuMs ?? Infinity, Number.isNaN(gpuMs) ? Infinity : gpuMs);
    }
  }
  for (const b of best) if (b.gpuMs === Infinity) b.gpuMs = NaN; // runs that reported times, none of them usable
  return best;
}
