/**
 * Fused softmax + cross-entropy with per-position loss weights (0 masks a
 * position). Activation gradients assign: crossentropyBackward overwrites the
 * logits with dlogits in place, and writes the per-position losses as well.
 */
import type { Binding } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';

export function crossentropyForward(
  rec: Recorder,
  losses: Binding,
  logits: Binding,
  targets: Binding,
  weights: Binding,
  R: number,
  V: number,
): void {
  const gpu = rec.gpu;
  rec.dispatch(
    'crossentropy_forward',
    gpu.pipeline('crossentropy', 'crossentropy_forward'),
    [gpu.uniform([R, V, 0]), losses, logits, targets, weights],
    [gpu.groupsFor(R, 1)],
    { flops: 3 * R * V, bytes: 4 * (R * V + 3 * R) },
  );
}

/**
 * In place: `logits` holds the logits on entry and dlogits on exit. On a CPU
 * adapter with subgroups, crossentropy_subgroup.wgsl's kernel (one subgroup a
 * row, no barriers; 4x faster on lavapipe), else crossentropy.wgsl's (a
 * workgroup of 64 a row, for GPUs and GPT-2's 50257-wide rows); `subgroup`
 * forces the choice.
 */
export function crossentropyBackward(
  rec: Recorder,
  logits: Binding,
  losses: Binding,
  targets: Binding,
  weights: Binding,
  R: number,
  V: number,
  subgroup = rec.gpu.cpu && rec.gpu.subgroupMinSize > 0,
): void {
  const gpu = rec.gpu;
  if (subgroup && gpu.subgroupMinSize === 0) {
    throw new Error('crossentropy_backward: the subgroup kernel needs the device\'s subgroups feature');
  }
  const pipeline = subgroup
    ? gpu.pipeline('crossentropy_subgroup', 'crossentropy_backward_subgroup', { WG: gpu.subgroupMinSize })
    : gpu.pipeline('crossentropy', 'crossentropy_backward');
  rec.dispatch('crossentropy_backward', pipeline, [gpu.uniform([R, V, 0]), logits, losses, targets, weights], [gpu.groupsFor(R, 1)], {
    flops: 6 * R * V,
    bytes: 4 * (2 * R * V + 3 * R),
  });
}

/** total[index] = sum of values[0..n), summed in a fixed order. */
export function lossSum(rec: Recorder, total: Binding, index: number, values: Binding, n: number): void {
  const gpu = rec.gpu;
  rec.dispatch('loss_sum', gpu.pipeline('crossentropy', 'loss_sum'), [gpu.uniform([n, 0, index]), total, values], [1], {
    flops: n,
    bytes: 4 * n,
  });
}
