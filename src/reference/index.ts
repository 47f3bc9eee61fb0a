// Plain-loop CPU references for every kernel family: the numerical spec the
// WGSL kernels are tested against.

export type { Vec } from './types.ts';
export { checkIndex } from './types.ts';
export { Rng, mulberry32 } from './random.ts';
export { encoderForward, encoderBackward } from './encoder.ts';
export { LAYERNORM_EPS, layernormForward, layernormBackward } from './layernorm.ts';
export { matmulForward, matmulBackward } from './matmul.ts';
export { attentionForward, attentionBackward } from './attention.ts';
export { geluForward, geluBackward } from './gelu.ts';
export { residualForward, residualBackward } from './residual.ts';
export { crossentropyForward, crossentropyBackward } from './crossentropy.ts';
export { type AdamWHyper, adamwUpdate } from './adamw.ts';
export { globalNorm, clipScale } from './gradnorm.ts';
export { pcg, uniform01, sampleRow, type SampleSettings } from './sampling.ts';
export { rewardForward, preferenceLoss, rewardBackward, type PreferenceStats } from './reward.ts';
export * as ppo from './ppo.ts';
