/** Learning-rate schedules: constant, or linear warmup then cosine decay (nanoGPT's). */

export type ScheduleName = 'constant' | 'cosine';

export interface ScheduleConfig {
  schedule: ScheduleName;
  lr: number;
  /** steps of linear warmup from lr/warmup up to lr */
  warmup: number;
  /** total steps; cosine decays to minLr at the last one */
  steps: number;
  /** floor of the cosine schedule; nanoGPT uses lr/10 */
  minLr?: number;
}

/** Learning rate of 0-based step `step`. */
export function learningRate(c: ScheduleConfig, step: number): number {
  if (step < c.warmup) return (c.lr * (step + 1)) / c.warmup;
  if (c.schedule === 'constant') return c.lr;
  const minLr = c.minLr ?? c.lr / 10;
  const decaySteps = Math.max(1, c.steps - c.warmup);
  const progress = Math.min(1, (step - c.warmup) / decaySteps);
  return minLr + 0.5 * (1 + Math.cos(Math.PI * progress)) * (c.lr - minLr);
}
