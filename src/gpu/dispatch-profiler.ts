/**
 * What the Gpu and the Recorder need of a profiler, apart from the Profiler
 * class itself (profiler.ts), so that the three modules import in one
 * direction: dispatch-profiler ← gpu ← recorder, and profiler ← both.
 */

/** What one dispatch does, for GFLOP/s and GB/s in profiles. */
export interface KernelWork {
  flops?: number;
  /** bytes read plus bytes written, counting each tensor once */
  bytes?: number;
}

export interface DispatchTiming {
  name: string;
  /** GPU start time in ns, relative to the first dispatch of the collection (NaN without timestamps) */
  startNs: number;
  durationNs: number;
  flops: number;
  bytes: number;
}

/** A profiler as the Recorder drives it and its owner reads it (implemented by Profiler). */
export interface DispatchProfiler {
  /** GPU times come from timestamp queries */
  readonly timestamps: boolean;
  /** times measured on the CPU, per submission (no timestamps) */
  readonly cpuTimings: boolean;
  /** With cpuTimings: the recorder has just submitted the last dispatch on its own. */
  submitted(): void;
  /** Descriptor for the pass of the next dispatch, with its timestamp writes. */
  passDescriptor(name: string, work: KernelWork): GPUComputePassDescriptor;
  /** Called by the recorder before finishing: copy this recording's timestamps out. */
  resolve(encoder: GPUCommandEncoder): void;
  /** Every dispatch recorded since the last collect, with its time, in submission order. */
  collect(): Promise<DispatchTiming[]>;
}
