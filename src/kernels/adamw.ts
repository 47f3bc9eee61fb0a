/**
 * AdamW (torch.optim.AdamW semantics). The step-varying scalars live in a
 * `Hyper` uniform buffer the caller rewrites before each step (writeAdamWHyper);
 * the gradient clip scale is read from the GPU-side norm buffer.
 */
import { rowChunks, window, type Binding } from '../gpu/buffers.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { Recorder } from '../gpu/recorder.ts';

const WG = 256;

export interface AdamWSettings {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export function createAdamWHyper(gpu: Gpu): GPUBuffer {
  return gpu.device.createBuffer({
    label: 'adamw.hyper',
    size: 32,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
}

/** Queue the scalars of optimizer step `step` (1-based) ahead of the step's submission. */
export function writeAdamWHyper(gpu: Gpu, hyper: GPUBuffer, s: AdamWSettings, step: number): void {
  const values = new Float32Array([
    s.lr,
    s.beta1,
    s.beta2,
    s.eps,
    s.weightDecay,
    1 - Math.pow(s.beta1, step),
    1 - Math.pow(s.beta2, step),
    0,
  ]);
  gpu.write(hyper, values);
}

/**
 * Update n elements: one tensor, or a span of an arena holding several that
 * share the decay setting. `norm` holds [global norm, clip scale]
 * (gradnormFinalize). Spans larger than a binding are updated in windows.
 */
export function adamwUpdate(
  rec: Recorder,
  param: Binding,
  m: Binding,
  v: Binding,
  grad: Binding,
  hyper: GPUBuffer,
  norm: GPUBuffer,
  n: number,
  decay: boolean,
): void {
  const gpu = rec.gpu;
  for (const { first, count } of rowChunks(n, 1, gpu.limits.maxBindingBytes, gpu.limits.storageOffsetAlignment)) {
    const w = (b: Binding) => window(b, first, count);
    // Four elements a lane where the window holds whole vec4s (windows start
    // at the storage offset alignment, a multiple of 16 bytes).
    const vec4 = count % 4 === 0;
    const lanes = vec4 ? count / 4 : count;
    rec.dispatch(
      'adamw_update',
      gpu.pipeline('adamw', vec4 ? 'adamw_update_vec4' : 'adamw_update'),
      [gpu.uniform([lanes, decay ? 1 : 0]), w(param), w(m), w(v), w(grad), hyper, norm],
      [gpu.groupsFor(lanes, WG)],
      { flops: 16 * count, bytes: 4 * 7 * count },
    );
  }
}
