/**
 * The scalar reward head and the preference loss (see shaders/reward.wgsl).
 * Activation gradients assign; dscore accumulates.
 */
import type { Binding } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';

const WG = 64;

export interface RewardShape {
  /** sequences in this micro-batch, and the index of its first in the batch */
  B: number;
  first: number;
  T: number;
  C: number;
  /** sequences in the whole batch */
  total: number;
  /** pair slots */
  P: number;
  center: number;
}

function params(rec: Recorder, s: RewardShape): GPUBuffer {
  return rec.gpu.uniform([s.B, s.T, s.C, s.first, s.P, s.total], [s.center]);
}

/** rewards[first + b] = hidden[b, last[first + b]] . score */
export function rewardForward(rec: Recorder, rewards: Binding, hidden: Binding, last: Binding, score: Binding, s: RewardShape): void {
  const gpu = rec.gpu;
  rec.dispatch('reward_forward', gpu.pipeline('reward', 'reward_forward'), [params(rec, s), rewards, hidden, last, score], [gpu.groupsFor(s.B, WG)], {
    flops: 2 * s.B * s.C,
    bytes: 4 * (s.B * s.C + s.C + 2 * s.B),
  });
}

/** dr (total) and stats [loss, accuracy, margin, chosen, rejected] from all rewards of the batch. */
export function preferenceLoss(
  rec: Recorder,
  dr: Binding,
  stats: Binding,
  rewards: Binding,
  pairs: Binding,
  margins: Binding,
  pairWeights: Binding,
  rowWeights: Binding,
  s: RewardShape,
): void {
  const gpu = rec.gpu;
  rec.dispatch(
    'preference_loss',
    gpu.pipeline('reward', 'preference_loss'),
    [params(rec, s), dr, stats, rewards, pairs, margins, pairWeights, rowWeights],
    [1],
    { flops: 20 * s.P + 4 * s.total * s.P, bytes: 4 * (4 * s.P + 3 * s.total) },
  );
}

/** dhidden (B,T,C) = dr at each sequence's last token times score; dscore += dr . hidden[last]. */
export function rewardBackward(
  rec: Recorder,
  dhidden: Binding,
  dscore: Binding,
  dr: Binding,
  hidden: Binding,
  last: Binding,
  score: Binding,
  s: RewardShape,
): void {
  const gpu = rec.gpu;
  const p = params(rec, s);
  rec.dispatch('reward_backward', gpu.pipeline('reward', 'reward_backward'), [p, dhidden, dr, last, score], [gpu.groupsFor(s.B * s.T * s.C, WG)], {
    flops: s.B * s.C,
    bytes: 4 * s.B * s.T * s.C,
  });
  rec.dispatch('reward_backward_score', gpu.pipeline('reward', 'reward_backward_score'), [p, dscore, dr, hidden, last], [gpu.groupsFor(s.C, WG)], {
    flops: 2 * s.B * s.C,
    bytes: 4 * (s.B * s.C + 2 * s.C),
  });
}
