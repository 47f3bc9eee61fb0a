import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { requestGpu } from '../../src/gpu/device.ts';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { summarizeByKernel, toChromeTrace } from '../../src/gpu/profile-report.ts';
import { Profiler } from '../../src/gpu/profiler.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { geluForward } from '../../src/kernels/gelu.ts';
import { gemm } from '../../src/kernels/matmul.ts';
import { GPT } from '../../src/model/gpt.ts';
import { preset } from '../../src/model/config.ts';
import { initParameters } from '../../src/model/params.ts';
import { Rng, testGpu, zeros } from '../helpers.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());
afterEach(() => vi.unstubAllGlobals());

describe('device', () => {
  it('names the adapter and reports its limits and features', () => {
    expect(gpu.name.length).toBeGreaterThan(0);
    expect(gpu.limits.maxBindingBytes).toBeGreaterThan(0);
    expect(gpu.limits.storageOffsetAlignment).toBeGreaterThanOrEqual(4);
    expect(typeof gpu.timestamps).toBe('boolean');
  });

  it('explains how to get an adapter when there is none', async () => {
    vi.stubGlobal('navigator', { gpu: { requestAdapter: async () => null } });
    await expect(requestGpu()).rejects.toThrow(/No WebGPU adapter was found[\s\S]*mesa-vulkan-drivers[\s\S]*enable-unsafe-webgpu/);
  });

  it('raises WebGPU validation errors at the next read, naming them', async () => {
    const small = zeros(gpu, 'small', 4);
    const rec = new Recorder(gpu);
    // A binding window past the end of its buffer is a validation error.
    geluForward(rec, { buffer: small, offset: 0, size: 64 }, small, 16);
    rec.submit();
    await expect(gpu.idle()).rejects.toThrow(/WebGPU error/);
  });
});

describe('caches', () => {
  it('compile a pipeline once per (shader, entry point, overrides)', () => {
    const a = gpu.pipeline('matmul', 'matmul', { TRANS_A: true });
    expect(gpu.pipeline('matmul', 'matmul', { TRANS_A: true })).toBe(a);
    expect(gpu.pipeline('matmul', 'matmul', { TRANS_A: false })).not.toBe(a);
  });

  it('build bind groups and uniforms once per set of buffers', () => {
    const p = gpu.pipeline('gelu', 'gelu_forward');
    const [x, y] = [zeros(gpu, 'x', 8), zeros(gpu, 'y', 8)];
    const u = gpu.uniform([8]);
    expect(gpu.uniform([8])).toBe(u);
    const g = gpu.bindGroup(p, [u, x, y]);
    expect(gpu.bindGroup(p, [u, x, y])).toBe(g);
    expect(gpu.bindGroup(p, [u, y, x])).not.toBe(g);
  });
});

describe('profiler', () => {
  it('times every dispatch of a training step by kernel name and exports a Chrome trace', async () => {
    const config = { ...preset('tiny'), nLayer: 1 };
    const model = new GPT(gpu, config, 2, 16);
    model.setParameters(initParameters(config, 1));
    const rng = new Rng(1);
    const tokens = rng.fillInt(new Int32Array(32), config.vocabSize);
    const profiler = new Profiler(gpu);
    await model.backward({ tokens, targets: tokens }, profiler);
    const timings = await profiler.collect();
    const names = new Set(timings.map((t) => t.name));
    for (const kernel of ['encoder_forward', 'layernorm_forward', 'matmul_forward', 'attention_scores', 'attention_softmax', 'attention_values', 'matmul_forward_gelu',
      'crossentropy_backward', 'attention_backward_query', 'attention_softmax_backward', 'layernorm_backward', 'encoder_backward_wte']) {
      expect(names, kernel).toContain(kernel);
    }
    const summary = summarizeByKernel(timings);
    const matmul = summary.find((s) => s.name === 'matmul_forward')!;
    expect(matmul.calls).toBe(3); // qkv, attention projection, fc projection (fc is matmul_forward_gelu)
    if (gpu.timestamps) {
      expect(timings.every((t) => Number.isFinite(t.durationNs) && t.durationNs >= 0)).toBe(true);
      expect(summary.reduce((a, s) => a + s.totalMs, 0)).toBeGreaterThan(0);
      expect(summary.reduce((a, s) => a + s.share, 0)).toBeCloseTo(1, 6);
      const trace = JSON.parse(toChromeTrace(timings));
      expect(trace.traceEvents.filter((e: { ph: string }) => e.ph === 'X')).toHaveLength(timings.length);
    } else {
      expect(timings.every((t) => Number.isNaN(t.durationNs))).toBe(true);
    }
    // A second collection holds only what was recorded since the first.
    const rec = new Recorder(gpu, profiler);
    const c = zeros(gpu, 'c', 4);
    gemm(rec, { binding: c, ld: 2 }, { binding: zeros(gpu, 'a', 4), ld: 2 }, { binding: zeros(gpu, 'b', 4), ld: 2 }, 2, 2, 2, { name: 'probe' });
    rec.submit();
    expect((await profiler.collect()).map((t) => t.name)).toEqual(['probe']);
    model.destroy();
  });
});
