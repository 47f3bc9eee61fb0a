/**
 * Global gradient norm and clip scale, computed on the GPU in two passes with
 * no atomics. A `GradNormPlan` assigns each gradient window its own range of
 * partial-sum slots, so the sum is deterministic. The gradients come as
 * tensors or as spans of an arena holding many (train/adamw.ts): a dispatch
 * a window of at most one binding, not one a tensor.
 */
import { rowChunks, window, type Binding } from '../gpu/buffers.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { Recorder } from '../gpu/recorder.ts';

const WG = 64;
/** Loads (of a vec4, or of one element) a lane makes at least, before a window gets more workgroups. */
const LANE_LOADS = 16;
/**
 * Workgroups per window at most: on a GPU enough lanes to keep loads in
 * flight over a window of hundreds of MB (an arena), and few enough to keep
 * the final sum short; on a CPU rasteriser, which runs a workgroup's lanes
 * one after another and pays for every workgroup's barrier, its few threads
 * are filled by a few.
 */
const MAX_GROUPS_GPU = 4096;
const MAX_GROUPS_CPU = 64;

export interface GradNormPlan {
  windows: { buffer: Binding; first: number; count: number; slot: number; groups: number }[];
  slots: number;
}

export function planGradNorm(gpu: Gpu, grads: readonly { buffer: Binding; size: number }[]): GradNormPlan {
  const windows: GradNormPlan['windows'] = [];
  const maxGroups = gpu.cpu ? MAX_GROUPS_CPU : MAX_GROUPS_GPU;
  let slots = 0;
  for (const { buffer, size } of grads) {
    for (const { first, count } of rowChunks(size, 1, gpu.limits.maxBindingBytes, gpu.limits.storageOffsetAlignment)) {
      const lanes = count % 4 === 0 ? count / 4 : count;
      const groups = Math.max(1, Math.min(maxGroups, Math.ceil(lanes / (WG * LANE_LOADS))));
      windows.push({ buffer, first, count, slot: slots, groups });
      slots += groups;
    }
  }
  return { windows, slots };
}

/**
 * norm[0] = global L2 norm of every gradient in the plan; norm[1] = the clip
 * scale min(1, maxNorm / (norm + 1e-6)), or 1 when maxNorm is 0.
 * `partials` holds plan.slots floats.
 */
export function gradNorm(rec: Recorder, norm: GPUBuffer, partials: GPUBuffer, plan: GradNormPlan, maxNorm: number): void {
  const gpu = rec.gpu;
  for (const w of plan.windows) {
    // Four elements a lane where the window holds whole vec4s (windows start
    // at the storage offset alignment, a multiple of 16 bytes).
    const vec4 = w.count % 4 === 0;
    rec.dispatch(
      'gradnorm_partial',
      gpu.pipeline('gradnorm', vec4 ? 'gradnorm_partial_vec4' : 'gradnorm_partial'),
      [gpu.uniform([vec4 ? w.count / 4 : w.count, w.slot], [0]), partials, window(w.buffer, w.first, w.count)],
      [w.groups],
      { flops: 2 * w.count, bytes: 4 * w.count },
    );
  }
  rec.dispatch(
    'gradnorm_finalize',
    gpu.pipeline('gradnorm', 'gradnorm_finalize'),
    [gpu.uniform([plan.slots, 0], [maxNorm]), norm, partials],
    [1],
    { flops: plan.slots, bytes: 4 * plan.slots },
  );
}
