/**
 * Per-dispatch GPU times from timestamp queries. Where the adapter has no
 * timestamp-query the profiler still records which kernels ran, says so
 * (`timestamps: false`), and leaves the times NaN, unless `cpuTimings` asks
 * for CPU-side times: then the recorder submits each dispatch alone, and a
 * dispatch's time runs from when the queue finished the one before (or from
 * its submission, if later) to when it finished this one. Coarser, and it
 * includes per-submission overhead, but it names the same kernels.
 */
import type { DispatchProfiler, DispatchTiming, KernelWork } from './dispatch-profiler.ts';
import type { Gpu } from './gpu.ts';

export type { DispatchTiming } from './dispatch-profiler.ts';

/** Query sets are made in blocks of this many dispatches (two queries each). */
const BLOCK = 1024;

export class Profiler implements DispatchProfiler {
  readonly timestamps: boolean;
  /** times measured on the CPU, per submission (no timestamps) */
  readonly cpuTimings: boolean;
  private readonly querySets: GPUQuerySet[] = [];
  private readonly pending: { name: string; work: KernelWork }[] = [];
  private readonly readbacks: { buffer: GPUBuffer; count: number; resolved: GPUBuffer }[] = [];
  private resolvedUpTo = 0;
  /** CPU-side timing: per dispatch, when it was submitted and when the queue had finished it (ms) */
  private readonly cpuTimes: Promise<{ submitted: number; done: number }>[] = [];

  constructor(
    private readonly gpu: Gpu,
    /** 'fallback': CPU-side times where the adapter has no timestamp queries; 'always': even where it has */
    options: { cpuTimings?: 'fallback' | 'always' } = {},
  ) {
    this.timestamps = gpu.timestamps && options.cpuTimings !== 'always';
    this.cpuTimings = !this.timestamps && options.cpuTimings !== undefined;
  }

  /** With cpuTimings: the recorder has just submitted the last dispatch on its own. */
  submitted(): void {
    const submitted = performance.now();
    this.cpuTimes.push(this.gpu.device.queue.onSubmittedWorkDone().then(() => ({ submitted, done: performance.now() })));
  }

  /** Descriptor for the pass of the next dispatch, with its timestamp writes. */
  passDescriptor(name: string, work: KernelWork): GPUComputePassDescriptor {
    const index = this.pending.length;
    this.pending.push({ name, work });
    if (!this.timestamps) return { label: name };
    const block = Math.floor(index / BLOCK);
    while (this.querySets.length <= block) {
      this.querySets.push(this.gpu.device.createQuerySet({ type: 'timestamp', count: 2 * BLOCK }));
    }
    const slot = (index % BLOCK) * 2;
    return {
      label: name,
      timestampWrites: {
        querySet: this.querySets[block]!,
        beginningOfPassWriteIndex: slot,
        endOfPassWriteIndex: slot + 1,
      },
    };
  }

  /** Called by the recorder before finishing: copy this recording's timestamps out. */
  resolve(encoder: GPUCommandEncoder): void {
    if (!this.timestamps) return;
    for (let first = this.resolvedUpTo; first < this.pending.length; ) {
      const block = Math.floor(first / BLOCK);
      const end = Math.min(this.pending.length, (block + 1) * BLOCK);
      const count = end - first;
      const slot = (first % BLOCK) * 2;
      // Resolved to the start of a buffer of its own: a resolve's destination offset must be a
      // multiple of 256, and a step of several submissions resolves from any slot.
      const resolved = this.gpu.device.createBuffer({ size: 2 * count * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      encoder.resolveQuerySet(this.querySets[block]!, slot, 2 * count, resolved, 0);
      const buffer = this.gpu.device.createBuffer({
        size: 2 * count * 8,
        usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
      });
      encoder.copyBufferToBuffer(resolved, 0, buffer, 0, 2 * count * 8);
      this.readbacks.push({ buffer, count, resolved });
      first = end;
    }
    this.resolvedUpTo = this.pending.length;
  }

  /** Every dispatch recorded since the last collect, with its time, in submission order. */
  async collect(): Promise<DispatchTiming[]> {
    const raw: bigint[] = [];
    for (const { buffer, resolved } of this.readbacks) {
      await buffer.mapAsync(GPUMapMode.READ);
      raw.push(...new BigUint64Array(buffer.getMappedRange()));
      buffer.unmap();
      buffer.destroy();
      resolved.destroy();
    }
    this.readbacks.length = 0;
    if (this.cpuTimings) {
      const cpu = await Promise.all(this.cpuTimes);
      this.cpuTimes.length = 0;
      for (let i = 0; i < cpu.length; i++) {
        const begin = Math.max(cpu[i]!.submitted, i > 0 ? cpu[i - 1]!.done : -Infinity);
        raw.push(BigInt(Math.round(begin * 1e6)), BigInt(Math.round(Math.max(begin, cpu[i]!.done) * 1e6)));
      }
    }
    const origin = raw.length > 0 ? raw[0]! : 0n;
    const timings = this.pending.map(({ name, work }, i): DispatchTiming => {
      const begin = raw[2 * i];
      const end = raw[2 * i + 1];
      const known = begin !== undefined && end !== undefined && end >= begin;
      return {
        name,
        startNs: known ? Number(begin - origin) : NaN,
        durationNs: known ? Number(end - begin) : NaN,
        flops: work.flops ?? 0,
        bytes: work.bytes ?? 0,
      };
    });
    this.pending.length = 0;
    this.resolvedUpTo = 0;
    this.gpu.raiseErrors();
    return timings;
  }
}
