/**
 * Parameters and their gradients in arenas: a few large buffers holding every
 * tensor as a window, rather than a buffer a tensor. Kernels bind a tensor's
 * window as they would a buffer; the optimizer and the gradient norm run over
 * whole arenas in a few dispatches (train/adamw.ts), not one or two a tensor,
 * which on a GPU is what the optimizer step costs (GPT-2 has 148 tensors, most
 * of them 768-element biases and LayerNorm weights).
 *
 * Layout: the tensors that take weight decay first, then the others, each
 * group contiguous but for padding to the storage offset alignment (so that
 * the optimizer updates each group in windows of the arena, with one decay
 * setting a window). The value and gradient arenas have the same layout. The
 * padding's gradients are zero (the gradient arenas are cleared whole) and
 * so its values stay zero under AdamW.
 */
import { arenaLayout, window, type BufferWindow } from '../gpu/buffers.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { Recorder } from '../gpu/recorder.ts';
import type { ParamSpec } from './params.ts';

/** A parameter tensor on the GPU with its gradient: windows of a value arena and a gradient arena. */
export interface ParamTensor {
  spec: ParamSpec;
  value: BufferWindow;
  grad: BufferWindow;
}

/** Tensors start at multiples of this many bytes (or of the storage offset alignment, if larger). */
const TENSOR_ALIGN_BYTES = 256;

/** The alignment of tensors in an arena on this device, in bytes: where the next tensor would start. */
export function arenaAlignBytes(gpu: Gpu): number {
  return Math.max(TENSOR_ALIGN_BYTES, gpu.limits.storageOffsetAlignment);
}

export class ParamArena {
  /** in the order of the specs given */
  readonly tensors: ParamTensor[];
  readonly values: GPUBuffer[];
  readonly grads: GPUBuffer[];

  constructor(gpu: Gpu, specs: readonly ParamSpec[], label = 'param') {
    // Decayed tensors first, then the others, each in the given order.
    const order = [...specs.keys()].sort((a, b) => Number(specs[b]!.decay) - Number(specs[a]!.decay) || a - b);
    const align = arenaAlignBytes(gpu);
    const { places, lengths } = arenaLayout(
      order.map((i) => specs[i]!.size),
      align,
      gpu.limits.maxBufferBytes,
    );
    this.values = lengths.map((n, a) => gpu.createBuffer(`${label}.arena${a}`, n * 4));
    this.grads = lengths.map((n, a) => gpu.createBuffer(`grad.${label}.arena${a}`, n * 4));
    const tensors: ParamTensor[] = new Array(specs.length);
    order.forEach((i, k) => {
      const spec = specs[i]!;
      const { arena, first } = places[k]!;
      tensors[i] = { spec, value: window(this.values[arena]!, first, spec.size), grad: window(this.grads[arena]!, first, spec.size) };
    });
    this.tensors = tensors;
  }

  /** Zero every gradient (they accumulate), padding included: one clear an arena. */
  recordZeroGradients(rec: Recorder): void {
    for (const g of this.grads) rec.clear(g);
  }

  destroy(): void {
    for (const b of [...this.values, ...this.grads]) b.destroy();
  }
}
