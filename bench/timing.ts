/**
 * Timing for the bench: the best of several runs, with peers interleaved.
 *
 * The best run rather than the median: on a shared machine the slower runs
 * measure the other jobs. Interleaved (ours, tfjs, ours, tfjs, ...) rather
 * than one after the other: the CPU machines this runs on drift by up to 2x
 * within minutes, and a drift between two back-to-back series would land in
 * the ratio; taken in turn, every candidate sees the same spells.
 */

/** Wall-clock and this process's CPU milliseconds of one run (the best of the runs). */
export interface RunTime {
  ms: number;
  cpuMs: number;
}

export interface TimedCandidate {
  /** one run, awaited to completion (read back what a user would wait for) */
  run: () => Promise<void>;
  /** timed runs, after one untimed run that compiles */
  runs: number;
}

/** One candidate's run and the release of what it holds (operands, models). */
export interface Runner {
  run: () => Promise<void>;
  dispose: () => void;
}

/** Each candidate's best timed run, the candidates' runs taken in turn. */
export async function bestRunTimes(candidates: readonly TimedCandidate[]): Promise<RunTime[]> {
  for (const c of candidates) await c.run();
  const best = candidates.map(() => ({ ms: Infinity, cpuMs: Infinity }));
  const rounds = Math.max(0, ...candidates.map((c) => c.runs));
  for (let r = 0; r < rounds; r++) {
    for (const [i, c] of candidates.entries()) {
      if (r >= c.runs) continue;
      const cpu = process.cpuUsage();
      const start = performance.now();
      await c.run();
      const ms = performance.now() - start;
      const used = process.cpuUsage(cpu);
      best[i]!.ms = Math.min(best[i]!.ms, ms);
      best[i]!.cpuMs = Math.min(best[i]!.cpuMs, (used.user + used.system) / 1000);
    }
  }
  return best;
}
