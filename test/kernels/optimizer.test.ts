import { afterAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { adamwUpdate, createAdamWHyper, writeAdamWHyper } from '../../src/kernels/adamw.ts';
import { gradNorm, planGradNorm } from '../../src/kernels/gradnorm.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import * as ref from '../../src/reference/index.ts';
import { expectClose, randn, Rng, testGpu, upload, zeros } from '../helpers.ts';

const gpus: Gpu[] = [];
afterAll(() => gpus.forEach((g) => g.destroy()));

// Tensors of odd sizes, one decayed, one not, and one of whole vec4s (which
// AdamW updates four elements a lane). With a 64-float binding limit all are
// split into windows, of whole vec4s but for the odd tensors' last.
describe.each([
  ['whole bindings', undefined],
  ['split bindings', 64 * 4],
])('global norm, clipping and AdamW (%s)', (_name, maxBindingBytes) => {
  it.each([
    ['clipping', 0.5],
    ['no clipping', 0],
  ])('three steps with %s match torch semantics', async (_n, maxNorm) => {
    const gpu = await testGpu({ maxBindingBytes });
    gpus.push(gpu);
    const rng = new Rng(11);
    const sizes = [1001, 37, 512];
    const decay = [true, false, true];
    const settings = { lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
    const params = sizes.map((n) => randn(rng, n));
    const ms = sizes.map((n) => new Float32Array(n));
    const vs = sizes.map((n) => new Float32Array(n));
    const pB = params.map((p, i) => upload(gpu, `p${i}`, p));
    const mB = sizes.map((n, i) => zeros(gpu, `m${i}`, n));
    const vB = sizes.map((n, i) => zeros(gpu, `v${i}`, n));
    const gB = sizes.map((n, i) => zeros(gpu, `g${i}`, n));
    const plan = planGradNorm(
      gpu,
      gB.map((buffer, i) => ({ buffer, size: sizes[i]! })),
    );
    if (maxBindingBytes) expect(plan.windows.length).toBeGreaterThan(2);
    const partials = zeros(gpu, 'partials', plan.slots);
    const norm = zeros(gpu, 'norm', 2);
    const hyper = createAdamWHyper(gpu);
    for (let step = 1; step <= 3; step++) {
      const grads = sizes.map((n) => randn(rng, n, 0.05));
      grads.forEach((g, i) => gpu.write(gB[i]!, g));
      writeAdamWHyper(gpu, hyper, settings, step);
      const rec = new Recorder(gpu);
      gradNorm(rec, norm, partials, plan, maxNorm);
      sizes.forEach((n, i) => adamwUpdate(rec, pB[i]!, mB[i]!, vB[i]!, gB[i]!, hyper, norm, n, decay[i]!));
      rec.submit();

      const expNorm = ref.globalNorm(grads);
      const scale = ref.clipScale(expNorm, maxNorm);
      if (maxNorm > 0) expect(scale).toBeLessThan(1); // the clipping path really runs
      sizes.forEach((n, i) =>
        ref.adamwUpdate(params[i]!, grads[i]!, ms[i]!, vs[i]!, n, {
          ...settings,
          weightDecay: decay[i] ? settings.weightDecay : 0,
          step,
          gradScale: scale,
        }),
      );
      const got = await gpu.readF32(norm);
      expect(got[0]).toBeCloseTo(expNorm, 5);
      expect(got[1]).toBeCloseTo(scale, 6);
    }
    for (let i = 0; i < sizes.length; i++) {
      const n = sizes[i]!;
      expectClose(await gpu.readF32(pB[i]!, 0, n), params[i]!, `params ${i}`, { rtol: 1e-5, atol: 1e-6 });
      expectClose(await gpu.readF32(mB[i]!, 0, n), ms[i]!, `m ${i}`, { rtol: 1e-5, atol: 1e-7 });
      expectClose(await gpu.readF32(vB[i]!, 0, n), vs[i]!, `v ${i}`, { rtol: 1e-5, atol: 1e-9 });
    }
  });
});
