/**
 * Records kernel launches into one command encoder, to be submitted once.
 * Without a profiler every dispatch goes into one compute pass; with one, each
 * dispatch gets its own pass so that timestamp queries can bracket it.
 */
import type { Binding } from './buffers.ts';
import type { Gpu } from './gpu.ts';
import type { Profiler } from './profiler.ts';

/** What one dispatch does, for GFLOP/s and GB/s in profiles. */
export interface KernelWork {
  flops?: number;
  /** bytes read plus bytes written, counting each tensor once */
  bytes?: number;
}

export class Recorder {
  readonly encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | null = null;
  private submitted = false;

  constructor(
    readonly gpu: Gpu,
    readonly profiler?: Profiler,
  ) {
    this.encoder = gpu.device.createCommandEncoder();
  }

  /** Launch `name` (the kernel's name in profiles) over `groups` workgroups. */
  dispatch(
    name: string,
    pipeline: GPUComputePipeline,
    bindings: readonly Binding[],
    groups: readonly [number, number?, number?],
    work: KernelWork = {},
  ): void {
    const [x, y = 1, z = 1] = groups;
    const maxGroups = this.gpu.limits.maxWorkgroupsPerDimension;
    if (x > maxGroups || y > maxGroups || z > maxGroups) {
      throw new Error(`${name}: dispatch of ${x}x${y}x${z} workgroups exceeds the limit of ${maxGroups} per dimension`);
    }
    if (x === 0 || y === 0 || z === 0) return;
    const bindGroup = this.gpu.bindGroup(pipeline, bindings);
    let pass: GPUComputePassEncoder;
    if (this.profiler) {
      this.endPass();
      pass = this.encoder.beginComputePass(this.profiler.passDescriptor(name, work));
    } else {
      this.pass ??= this.encoder.beginComputePass();
      pass = this.pass;
    }
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    if (this.profiler) pass.end();
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.endPass();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Zero `bytes` bytes of a buffer from `offset` (both multiples of 4). */
  clear(buffer: GPUBuffer, offset = 0, bytes = buffer.size - offset): void {
    this.endPass();
    this.encoder.clearBuffer(buffer, offset, bytes);
  }

  /** Finish and submit everything recorded. */
  submit(): void {
    if (this.submitted) throw new Error('Recorder.submit called twice');
    this.submitted = true;
    this.endPass();
    this.profiler?.resolve(this.encoder);
    this.gpu.device.queue.submit([this.encoder.finish()]);
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }
}
