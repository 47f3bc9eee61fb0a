/**
 * What every GPU command (pretrain, sft, reward, ppo, pipeline) does around
 * its work: take the GPU (logging its adapter under the command's prefix),
 * run the checks and first writes that must fail before anything else
 * (`setUp`: the device is checked before the first file is written), then
 * turn Ctrl-C and SIGTERM into a stop flag, show progress bars, and always hand the
 * signals and the GPU back.
 */
import { requestCommandGpu } from './autotune-cache.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { Progress } from './progress.ts';

export interface CommandRun {
  gpu: Gpu;
  /** true once a stop signal arrived: the loop saves and stops */
  shouldStop: () => boolean;
  /** Starts a progress bar; the run stops the latest one when it ends. */
  progress: (label: string, steps: number, start?: number) => Progress;
}

export interface CommandRunOptions {
  /** the prefix of the adapter's log line (`<prefix>: adapter …`) */
  prefix: string;
  /** Runs on the new GPU before any signal is caught; a throw destroys the GPU. */
  setUp?: (gpu: Gpu) => void;
}

export async function withCommandRun<T>(options: CommandRunOptions, run: (ctx: CommandRun) => Promise<T>): Promise<T> {
  const gpu = await requestCommandGpu((line) => console.log(`${options.prefix}: ${line}`));
  try {
    options.setUp?.(gpu);
  } catch (e) {
    gpu.destroy();
    throw e;
  }
  let stopRequested = false;
  const onSignal = () => {
    stopRequested = true;
  };
  // Ctrl-C, and the TERM a job scheduler or `kill` sends: either stops at the next step with a checkpoint.
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  for (const s of signals) process.once(s, onSignal);
  let current: Progress | null = null;
  try {
    return await run({
      gpu,
      shouldStop: () => stopRequested,
      progress: (label, steps, start = 0) => (current = new Progress(label, steps, start)),
    });
  } finally {
    (current as Progress | null)?.stop();
    for (const s of signals) process.off(s, onSignal);
    gpu.destroy();
  }
}
