// PPO per-token math, the CPU spec of shaders/ppo.wgsl. Rows are positions of
// (B,T); `weights` are 1/#counted for response positions and 0 elsewhere.
// Activation gradients assign; dw accumulates.

import type { Vec } from './types.ts';

function rowStats(logits: Vec, r: number, V: number, invTemp: number) {
  let m = -Infinity;
  for (let v = 0; v < V; v++) m = Math.max(m, logits[r * V + v]! * invTemp);
  let s = 0;
  let sz = 0;
  for (let v = 0; v < V; v++) {
    const z = logits[r * V + v]! * invTemp - m;
    s += Math.exp(z);
    sz += Math.exp(z) * z;
  }
  return { m, s, entropy: Math.log(s) - sz / s };
}

export function tokenLogprobs(logprob: Vec, entropy: Vec, logits: Vec, targets: Int32Array, R: number, V: number, invTemp: number): void {
  for (let r = 0; r < R; r++) {
    const { m, s, entropy: h } = rowStats(logits, r, V, invTemp);
    logprob[r] = logits[r * V + targets[r]!]! * invTemp - m - Math.log(s);
    entropy[r] = h;
  }
}

/** TRL's clipped surrogate; returns the weighted sum of losses, clip fractions and approx-KL. */
export function ppoPolicyLoss(
  dlogits: Vec,
  logits: Vec,
  targets: Int32Array,
  oldLogprob: Vec,
  advantages: Vec,
  weights: Vec,
  R: number,
  V: number,
  invTemp: number,
  clip: number,
): { loss: number; clipfrac: number; approxkl: number; ratio: number } {
  const out = { loss: 0, clipfrac: 0, approxkl: 0, ratio: 0 };
  for (let r = 0; r < R; r++) {
    const { m, s } = rowStats(logits, r, V, invTemp);
    const t = targets[r]!;
    const logp = logits[r * V + t]! * invTemp - m - Math.log(s);
    const a = advantages[r]!;
    const w = weights[r]!;
    const ratio = Math.exp(logp - oldLogprob[r]!);
    const unclipped = -a * ratio;
    const clipped = -a * Math.min(Math.max(ratio, 1 - clip), 1 + clip);
    const dlogp = unclipped >= clipped && w !== 0 ? -a * ratio * w : 0;
    for (let v = 0; v < V; v++) {
      const p = Math.exp(logits[r * V + v]! * invTemp - m) / s;
      dlogits[r * V + v] = dlogp * ((v === t ? 1 : 0) - p) * invTemp;
    }
    out.loss += w * Math.max(unclipped, clipped);
    out.clipfrac += clipped > unclipped ? w : 0;
    out.approxkl += w * 0.5 * (logp - oldLogprob[r]!) ** 2;
    out.ratio += w * ratio;
  }
  return out;
}

/** Per sequence: -beta·KL on every counted position and the score on the last; 0 elsewhere. */
export function ppoRewards(
  rewards: Vec,
  kl: Vec,
  logprob: Vec,
  refLogprob: Vec,
  scores: Vec,
  span: Int32Array, // (2,B)
  B: number,
  T: number,
  o: { beta: number; k3: boolean },
): void {
  rewards.fill(0, 0, B * T);
  kl.fill(0, 0, B * T);
  for (let b = 0; b < B; b++) {
    for (let t = span[b]!; t <= span[B + b]!; t++) {
      const i = b * T + t;
      const logRatio = logprob[i]! - refLogprob[i]!;
      kl[i] = o.k3 ? Math.exp(-logRatio) - 1 + logRatio : logRatio;
      rewards[i] = -o.beta * kl[i]! + (t === span[B + b] ? scores[b]! : 0);
    }
  }
}

/** GAE(gamma, lambda) over each sequence's counted span; 0 elsewhere. */
export function ppoGae(advantages: Vec, returns: Vec, rewards: Vec, values: Vec, span: Int32Array, B: number, T: number, o: { gamma: number; lam: number }): void {
  advantages.fill(0, 0, B * T);
  returns.fill(0, 0, B * T);
  for (let b = 0; b < B; b++) {
    let nextValue = 0;
    let nextAdv = 0;
    for (let t = span[B + b]!; t >= span[b]!; t--) {
      const i = b * T + t;
      const a = rewards[i]! + o.gamma * nextValue - values[i]! + o.gamma * o.lam * nextAdv;
      advantages[i] = a;
      returns[i] = a + values[i]!;
      nextValue = values[i]!;
      nextAdv = a;
    }
  }
}

export function valueForward(values: Vec, hidden: Vec, w: Vec, R: number, C: number): void {
  for (let r = 0; r < R; r++) {
    let v = 0;
    for (let c = 0; c < C; c++) v += hidden[r * C + c]! * w[c]!;
    values[r] = v;
  }
}

/** TRL's clipped value loss 0.5 max((v-R)^2, (v_clip-R)^2), weighted; writes dvalues. */
export function valueLoss(dvalues: Vec, values: Vec, oldValues: Vec, returns: Vec, weights: Vec, R: number, clip: number): { loss: number; clipfrac: number } {
  const out = { loss: 0, clipfrac: 0 };
  for (let i = 0; i < R; i++) {
    const v = values[i]!;
    const old = oldValues[i]!;
    const ret = returns[i]!;
    const vClip = old + Math.min(Math.max(v - old, -clip), clip);
    const l1 = (v - ret) ** 2;
    const l2 = (vClip - ret) ** 2;
    const g = l1 >= l2 ? v - ret : Math.abs(v - old) < clip ? vClip - ret : 0;
    dvalues[i] = weights[i]! * g;
    out.loss += weights[i]! * 0.5 * Math.max(l1, l2);
    out.clipfrac += l2 > l1 ? weights[i]! : 0;
  }
  return out;
}

export function valueBackward(dhidden: Vec, dw: Vec, dvalues: Vec, hidden: Vec, w: Vec, R: number, C: number): void {
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) {
      dhidden[r * C + c] = dvalues[r]! * w[c]!;
      dw[c]! += dvalues[r]! * hidden[r * C + c]!;
    }
  }
}

/** TRL's masked_whiten: counted entries to unit unbiased variance (and zero mean with shiftMean); the rest 0. */
export function whiten(out: Vec, advantages: Vec, weights: Vec, R: number, n: number, shiftMean = true): void {
  let mean = 0;
  for (let i = 0; i < R; i++) mean += weights[i]! * advantages[i]!;
  let variance = 0;
  for (let i = 0; i < R; i++) variance += weights[i]! * (advantages[i]! - mean) ** 2;
  variance *= n / Math.max(n - 1, 1);
  const shift = shiftMean ? 0 : mean;
  for (let i = 0; i < R; i++) out[i] = weights[i] !== 0 ? (advantages[i]! - mean) / Math.sqrt(variance + 1e-8) + shift : 0;
}
