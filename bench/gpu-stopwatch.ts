/**
 * The GPU time of a piece of recorded work, from two timestamp queries: one
 * written by an empty compute pass before the work, one by an empty pass after
 * it. Only 16 bytes come back, so the time does not include reading the
 * work's output (on a discrete GPU that readback is a PCIe transfer, and for
 * an LM head's logits it takes far longer than the kernel).
 *
 * Why a span rather than src/gpu/profiler.ts's per-dispatch times: a gemm is
 * not only dispatches. The `uniform` variant packs its operands with buffer
 * and texture copies recorded between passes, which no dispatch's timestamps
 * cover; the span from before the first command to after the last one does,
 * and it leaves the work in one pass as a training step runs it.
 */
import type { Gpu } from '../src/gpu/gpu.ts';
import { Recorder } from '../src/gpu/recorder.ts';

export class GpuStopwatch {
  private readonly querySet: GPUQuerySet;
  private readonly resolved: GPUBuffer;
  private readonly readback: GPUBuffer;

  constructor(private readonly gpu: Gpu) {
    if (!gpu.timestamps) throw new Error('GpuStopwatch needs a device with timestamp-query');
    const device = gpu.device;
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 });
    this.resolved = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.readback = device.createBuffer({ size: 16, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  }

  /** Records `work` between the two timestamps, submits it alone, and resolves to its GPU milliseconds. */
  async time(work: (rec: Recorder) => void): Promise<number> {
    const querySet = this.querySet;
    const rec = new Recorder(this.gpu);
    rec.encodeCopies((encoder) => {
      encoder.beginComputePass({ label: 'stopwatch.start', timestampWrites: { querySet, beginningOfPassWriteIndex: 0 } }).end();
    });
    work(rec);
    rec.encodeCopies((encoder) => {
      encoder.beginComputePass({ label: 'stopwatch.stop', timestampWrites: { querySet, endOfPassWriteIndex: 1 } }).end();
      encoder.resolveQuerySet(querySet, 0, 2, this.resolved, 0);
      encoder.copyBufferToBuffer(this.resolved, 0, this.readback, 0, 16);
    });
    rec.submit();
    // Mapping waits for the submission, so the work is done when the time is known.
    await this.readback.mapAsync(GPUMapMode.READ);
    const [start, end] = new BigUint64Array(this.readback.getMappedRange().slice(0));
    this.readback.unmap();
    this.gpu.raiseErrors();
    // Timestamps can come back unordered (a reset counter, a clock change): no time rather than a wrong one.
    return start !== undefined && end !== undefined && end >= start ? Number(end - start) / 1e6 : NaN;
  }

  destroy(): void {
    this.querySet.destroy();
    this.resolved.destroy();
    this.readback.destroy();
  }
}
