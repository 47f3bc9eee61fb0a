/** Aggregating dispatch timings by kernel, and exporting them as a Chrome trace. */
import type { DispatchTiming } from './profiler.ts';

export interface KernelSummary {
  name: string;
  calls: number;
  totalMs: number;
  meanUs: number;
  /** fraction of the summed GPU time of all dispatches */
  share: number;
  gflops: number;
  gbps: number;
}

export function summarizeByKernel(timings: readonly DispatchTiming[]): KernelSummary[] {
  const byName = new Map<string, { calls: number; ns: number; flops: number; bytes: number }>();
  let totalNs = 0;
  for (const t of timings) {
    const s = byName.get(t.name) ?? { calls: 0, ns: 0, flops: 0, bytes: 0 };
    s.calls++;
    s.ns += t.durationNs;
    s.flops += t.flops;
    s.bytes += t.bytes;
    byName.set(t.name, s);
    totalNs += t.durationNs;
  }
  return [...byName.entries()]
    .map(([name, s]) => ({
      name,
      calls: s.calls,
      totalMs: s.ns / 1e6,
      meanUs: s.ns / s.calls / 1e3,
      share: totalNs > 0 ? s.ns / totalNs : NaN,
      gflops: s.ns > 0 ? s.flops / s.ns : NaN,
      gbps: s.ns > 0 ? s.bytes / s.ns : NaN,
    }))
    .sort((a, b) => b.totalMs - a.totalMs);
}

/** The per-kernel table (bench, profile command): a header, then a row of cells per kernel. */
export function kernelTableRows(kernels: readonly KernelSummary[]): string[][] {
  const figure = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '-');
  return [
    ['kernel', 'calls', 'total ms', 'mean µs', 'share', 'GFLOP/s', 'GB/s'],
    ...kernels.map((k) => [
      k.name,
      String(k.calls),
      k.totalMs.toFixed(3),
      k.meanUs.toFixed(1),
      `${(k.share * 100).toFixed(1)}%`,
      figure(k.gflops),
      figure(k.gbps),
    ]),
  ];
}

/** Chrome Trace Event JSON (opens in Perfetto or chrome://tracing). */
export function toChromeTrace(timings: readonly DispatchTiming[], processName = 'webgpu-rlhf'): string {
  const events: object[] = [
    { name: 'process_name', ph: 'M', pid: 1, tid: 1, args: { name: processName } },
    { name: 'thread_name', ph: 'M', pid: 1, tid: 1, args: { name: 'GPU queue' } },
  ];
  for (const t of timings) {
    if (!Number.isFinite(t.startNs)) continue;
    events.push({
      name: t.name,
      cat: 'kernel',
      ph: 'X',
      pid: 1,
      tid: 1,
      ts: t.startNs / 1e3,
      dur: t.durationNs / 1e3,
      args: { flops: t.flops, bytes: t.bytes },
    });
  }
  return JSON.stringify({ traceEvents: events, displayTimeUnit: 'ms' });
}
