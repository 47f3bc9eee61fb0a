// The scalar reward head and the preference (Bradley–Terry) loss.
// Activation gradients assign (dhidden =, dr =); dscore accumulates (+=).

import type { Vec } from './types.ts';

/** rewards[b] = hidden[b, last[b], :] . score */
export function rewardForward(rewards: Vec, hidden: Vec, last: Int32Array, score: Vec, B: number, T: number, C: number): void {
  for (let b = 0; b < B; b++) {
    let r = 0;
    for (let c = 0; c < C; c++) r += hidden[(b * T + last[b]!) * C + c]! * score[c]!;
    rewards[b] = r;
  }
}

export interface PreferenceStats {
  loss: number;
  accuracy: number;
  margin: number;
  chosen: number;
  rejected: number;
}

const softplusNeg = (d: number) => Math.max(-d, 0) + Math.log1p(Math.exp(-Math.abs(d)));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * loss = sum_p w_p softplus(-(r_c - r_r - m_p)) + center * sum_b u_b r_b^2;
 * `pairs` holds (chosen, rejected) sequence indices. Writes dr = dloss/dr.
 */
export function preferenceLoss(
  dr: Vec,
  rewards: Vec,
  pairs: Int32Array,
  margins: Vec,
  pairWeights: Vec,
  rowWeights: Vec,
  center: number,
): PreferenceStats {
  const stats = { loss: 0, accuracy: 0, margin: 0, chosen: 0, rejected: 0 };
  for (let b = 0; b < rewards.length; b++) {
    dr[b] = 2 * center * rowWeights[b]! * rewards[b]!;
    stats.loss += center * rowWeights[b]! * rewards[b]! ** 2;
  }
  for (let p = 0; p < pairWeights.length; p++) {
    const w = pairWeights[p]!;
    if (w === 0) continue;
    const c = pairs[2 * p]!;
    const r = pairs[2 * p + 1]!;
    const d = rewards[c]! - rewards[r]! - margins[p]!;
    stats.loss += w * softplusNeg(d);
    const s = w * sigmoid(-d);
    dr[c]! -= s;
    dr[r]! += s;
    stats.accuracy += rewards[c]! > rewards[r]! ? w : 0;
    stats.margin += w * (rewards[c]! - rewards[r]!);
    stats.chosen += w * rewards[c]!;
    stats.rejected += w * rewards[r]!;
  }
  return stats;
}

export function rewardBackward(
  dhidden: Vec,
  dscore: Vec,
  dr: Vec,
  hidden: Vec,
  last: Int32Array,
  score: Vec,
  B: number,
  T: number,
  C: number,
): void {
  dhidden.fill(0, 0, B * T * C);
  for (let b = 0; b < B; b++) {
    const row = (b * T + last[b]!) * C;
    for (let c = 0; c < C; c++) {
      dhidden[row + c] = dr[b]! * score[c]!;
      dscore[c]! += dr[b]! * hidden[row + c]!;
    }
  }
}
