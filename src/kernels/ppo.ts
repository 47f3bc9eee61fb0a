/** Launchers of the PPO per-token kernels (see shaders/ppo.wgsl). */
import type { Binding } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';

const WG = 64;

export interface PpoParams {
  R: number;
  V?: number;
  rowOffset?: number;
  T?: number;
  B?: number;
  klK3?: boolean;
  C?: number;
  /** whiten: counted positions */
  n?: number;
  /** dot_sum: index of the output */
  outIndex?: number;
  /** whiten: subtract the mean too */
  shiftMean?: boolean;
  invTemp?: number;
  clip?: number;
  gamma?: number;
  lam?: number;
  beta?: number;
}

function uniform(rec: Recorder, p: PpoParams): GPUBuffer {
  return rec.gpu.uniform(
    [p.R, p.V ?? 0, p.rowOffset ?? 0, p.T ?? 0, p.B ?? 0, p.klK3 ? 1 : 0, p.C ?? 0, p.n ?? 0, p.outIndex ?? 0, p.shiftMean === false ? 0 : 1],
    [p.invTemp ?? 1, p.clip ?? 0, p.gamma ?? 1, p.lam ?? 1, p.beta ?? 0],
  );
}

/** logprob/entropy[rowOffset + r] of the R rows of `logits` (R,V) at a temperature. */
export function tokenLogprobs(rec: Recorder, logprob: Binding, entropy: Binding, logits: Binding, targets: Binding, p: PpoParams): void {
  rec.dispatch('token_logprobs', rec.gpu.pipeline('ppo', 'token_logprobs'), [uniform(rec, p), logprob, entropy, logits, targets], [rec.gpu.groupsFor(p.R, 1)], {
    flops: 5 * p.R * p.V!,
    bytes: 4 * p.R * p.V!,
  });
}

/** The clipped surrogate of R rows; writes its gradient over `logits` in place, and (3,B·T) token stats [clipped, approx-KL, ratio], all weighted. */
export function ppoPolicyLoss(
  rec: Recorder,
  logits: Binding,
  tokenLoss: Binding,
  tokenStats: Binding,
  targets: Binding,
  oldLogprob: Binding,
  advantages: Binding,
  weights: Binding,
  p: PpoParams,
): void {
  rec.dispatch(
    'ppo_policy_loss',
    rec.gpu.pipeline('ppo', 'ppo_policy_loss'),
    [uniform(rec, p), logits, tokenLoss, tokenStats, targets, oldLogprob, advantages, weights],
    [rec.gpu.groupsFor(p.R, 1)],
    { flops: 6 * p.R * p.V!, bytes: 8 * p.R * p.V! },
  );
}

/** Per-token rewards (-beta·KL on counted positions, plus the score on the last) and the KL estimates. `span` holds each sequence's first and last counted position. */
export function ppoRewards(rec: Recorder, rewards: Binding, kl: Binding, logprob: Binding, refLogprob: Binding, scores: Binding, span: Binding, p: PpoParams): void {
  rec.dispatch('ppo_rewards', rec.gpu.pipeline('ppo', 'ppo_rewards'), [uniform(rec, p), rewards, kl, logprob, refLogprob, scores, span], [Math.ceil(p.B! / WG)], {
    flops: 6 * p.B! * p.T!,
    bytes: 4 * 4 * p.B! * p.T!,
  });
}

/** GAE(gamma, lambda) advantages and returns over each sequence's counted span. */
export function ppoGae(rec: Recorder, advantages: Binding, returns: Binding, rewards: Binding, values: Binding, span: Binding, p: PpoParams): void {
  rec.dispatch('ppo_gae', rec.gpu.pipeline('ppo', 'ppo_gae'), [uniform(rec, p), advantages, returns, rewards, values, span], [Math.ceil(p.B! / WG)], {
    flops: 6 * p.B! * p.T!,
    bytes: 4 * 4 * p.B! * p.T!,
  });
}

/** values[rowOffset + r] = hidden[r] . w for R rows. */
export function valueForward(rec: Recorder, values: Binding, hidden: Binding, w: Binding, p: PpoParams): void {
  rec.dispatch('value_forward', rec.gpu.pipeline('ppo', 'value_forward'), [uniform(rec, p), values, hidden, w], [rec.gpu.groupsFor(p.R, WG)], {
    flops: 2 * p.R * p.C!,
    bytes: 4 * p.R * p.C!,
  });
}

/** The clipped value loss of R positions: dvalues and (2,R) stats [weighted loss, weighted clip flag]. */
export function valueLoss(rec: Recorder, dvalues: Binding, stats: Binding, values: Binding, oldValues: Binding, returns: Binding, weights: Binding, p: PpoParams): void {
  rec.dispatch('value_loss', rec.gpu.pipeline('ppo', 'value_loss'), [uniform(rec, p), dvalues, stats, values, oldValues, returns, weights], [rec.gpu.groupsFor(p.R, WG)], {
    flops: 12 * p.R,
    bytes: 4 * 7 * p.R,
  });
}

/** dhidden (R,C) = dvalues w; dw += sum_r dvalues hidden. */
export function valueBackward(rec: Recorder, dhidden: Binding, dw: Binding, dvalues: Binding, hidden: Binding, w: Binding, p: PpoParams): void {
  rec.dispatch('value_backward', rec.gpu.pipeline('ppo', 'value_backward'), [uniform(rec, p), dhidden, dw, dvalues, hidden, w], [rec.gpu.groupsFor(p.R * p.C!, WG)], {
    flops: 3 * p.R * p.C!,
    bytes: 4 * 3 * p.R * p.C!,
  });
}

/**
 * Counted entries (weight > 0) to unit (unbiased) variance and, with
 * shiftMean (advantages; the default), zero mean, in place; others to 0.
 * TRL whitens rewards without shifting their mean.
 */
export function whiten(rec: Recorder, values: Binding, weights: Binding, R: number, n: number, shiftMean = true): void {
  rec.dispatch('whiten', rec.gpu.pipeline('ppo', 'whiten'), [uniform(rec, { R, n, shiftMean }), values, weights], [1], { flops: 6 * R, bytes: 12 * R });
}

/** total[index] = sum of x[xOffset + i]·y[i] over i in [0,R), in a fixed order. */
export function dotSum(rec: Recorder, total: Binding, index: number, x: Binding, y: Binding, R: number, xOffset = 0): void {
  rec.dispatch('dot_sum', rec.gpu.pipeline('ppo', 'dot_sum'), [uniform(rec, { R, outIndex: index, rowOffset: xOffset }), total, x, y], [1], {
    flops: 2 * R,
    bytes: 8 * R,
  });
}
