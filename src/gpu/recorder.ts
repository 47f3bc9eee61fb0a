/**
 * Records kernel launches into one command encoder, to be submitted once.
 * Without a profiler every dispatch goes into one compute pass; with one, each
 * dispatch gets its own pass so that timestamp queries can bracket it (or,
 * without timestamp queries, its own submission, timed on the CPU).
 */
import { bufferOf, offsetOf, type Binding } from './buffers.ts';
import type { DispatchProfiler, KernelWork } from './dispatch-profiler.ts';
import type { Gpu } from './gpu.ts';

export type { KernelWork } from './dispatch-profiler.ts';

export class Recorder {
  private currentEncoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | null = null;
  private submitted = false;
  /** the given profiler, else the one attached to the Gpu (if any) */
  readonly profiler?: DispatchProfiler;

  constructor(
    readonly gpu: Gpu,
    profiler?: DispatchProfiler,
  ) {
    this.currentEncoder = gpu.device.createCommandEncoder();
    this.profiler = profiler ?? gpu.profiler;
  }

  get encoder(): GPUCommandEncoder {
    return this.currentEncoder;
  }

  /** Launch `name` (the kernel's name in profiles) over `groups` workgroups. */
  dispatch(
    name: string,
    pipeline: GPUComputePipeline,
    bindings: readonly (Binding | null)[],
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
      pass = this.currentEncoder.beginComputePass(this.profiler.passDescriptor(name, work));
    } else {
      this.pass ??= this.currentEncoder.beginComputePass();
      pass = this.pass;
    }
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    if (this.profiler) pass.end();
    if (this.profiler?.cpuTimings) {
      // No timestamp queries: each dispatch goes alone to the queue, so that its
      // completion time (CPU-side) brackets it. Queue order keeps the semantics.
      this.gpu.device.queue.submit([this.currentEncoder.finish()]);
      this.profiler.submitted();
      this.currentEncoder = this.gpu.device.createCommandEncoder();
    }
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.endPass();
    this.currentEncoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Record copy commands (buffer and texture copies) between the dispatches. */
  encodeCopies(record: (encoder: GPUCommandEncoder) => void): void {
    this.endPass();
    record(this.currentEncoder);
  }

  /** Zero `bytes` bytes of a buffer, or of a window of one, from `offset` (both multiples of 4). */
  clear(target: Binding, offset = 0, bytes = target.size - offset): void {
    this.endPass();
    this.currentEncoder.clearBuffer(bufferOf(target), offsetOf(target) + offset, bytes);
  }

  /** Finish and submit everything recorded. */
  submit(): void {
    if (this.submitted) throw new Error('Recorder.submit called twice');
    this.submitted = true;
    this.endPass();
    this.profiler?.resolve(this.currentEncoder);
    this.gpu.device.queue.submit([this.currentEncoder.finish()]);
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }
}
