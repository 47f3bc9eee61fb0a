import { afterAll, describe, expect, it } from 'vitest';
import { rowChunks } from '../../src/gpu/buffers.ts';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { adamwUpdate, createAdamWHyper, writeAdamWHyper } from '../../src/kernels/adamw.ts';
import { gradNorm, planGradNorm } from '../../src/kernels/gradnorm.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { ParamArena, type ParamTensor } from '../../src/model/param-arena.ts';
import type { ParamSpec } from '../../src/model/params.ts';
import * as ref from '../../src/reference/index.ts';
import { AdamW } from '../../src/train/adamw.ts';
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

function spec(name: string, shape: number[]): ParamSpec {
  return { name, shape, size: shape.reduce((a, b) => a * b, 1), init: 'zeros', decay: shape.length >= 2, conv1d: false };
}

// Decayed tensors and others interleaved, of sizes that are not multiples of
// 4 or of the arena's alignment, and a second arena (a head, as the reward
// model's score): three spans.
const ARENA_SPECS = [
  spec('a.weight', [7, 143]),
  spec('a.bias', [37]),
  spec('b.weight', [16, 32]),
  spec('ln.weight', [3]),
  spec('ln.bias', [768]),
  spec('c.weight', [10, 13]),
];
const HEAD_SPECS = [spec('head.weight', [1, 33])];

/** Names of the dispatches rec records from here on. */
function countDispatches(rec: Recorder): string[] {
  const names: string[] = [];
  const dispatch = rec.dispatch.bind(rec);
  rec.dispatch = (name, ...rest) => {
    names.push(name);
    dispatch(name, ...rest);
  };
  return names;
}

describe.each([
  ['whole bindings', undefined],
  ['split bindings', 64 * 4],
])('AdamW over parameter arenas (%s)', (_name, maxBindingBytes) => {
  const settings = { lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };

  async function setup(seed: number, maxNorm: number) {
    const gpu = await testGpu({ maxBindingBytes });
    gpus.push(gpu);
    const arenas = [new ParamArena(gpu, ARENA_SPECS, 'test'), new ParamArena(gpu, HEAD_SPECS, 'head')];
    const params: ParamTensor[] = arenas.flatMap((a) => a.tensors);
    const rng = new Rng(seed);
    const values = params.map((p) => randn(rng, p.spec.size));
    params.forEach((p, i) => gpu.write(p.value, values[i]!));
    const opt = new AdamW(gpu, params, { ...settings, gradClip: maxNorm });
    return { gpu, arenas, params, values, opt, rng };
  }

  /** One step on the GPU with these gradients; returns the dispatches' names. */
  async function step(gpu: Gpu, arenas: ParamArena[], params: ParamTensor[], opt: AdamW, grads: Float32Array[]): Promise<string[]> {
    opt.prepare();
    const rec = new Recorder(gpu);
    for (const a of arenas) a.recordZeroGradients(rec);
    rec.submit();
    params.forEach((p, i) => gpu.write(p.grad, grads[i]!));
    const run = new Recorder(gpu);
    const names = countDispatches(run);
    opt.record(run);
    run.submit();
    await gpu.idle();
    return names;
  }

  it.each([
    ['clipping', 0.5],
    ['no clipping', 0],
  ])('three steps with %s match torch semantics tensor by tensor, in a few dispatches', async (_n, maxNorm) => {
    const { gpu, arenas, params, values, opt, rng } = await setup(21, maxNorm);
    expect(opt.spans.map((s) => [s.decay, s.members.length])).toEqual([
      [true, 3],
      [false, 3],
      [true, 1],
    ]);
    const ms = params.map((p) => new Float32Array(p.spec.size));
    const vs = params.map((p) => new Float32Array(p.spec.size));
    const { maxBindingBytes: limit, storageOffsetAlignment: align } = gpu.limits;
    const windows = opt.spans.reduce((n, s) => n + rowChunks(s.length, 1, limit, align).length, 0);
    if (maxBindingBytes) expect(windows).toBeGreaterThan(params.length);
    else expect(windows).toBe(3);
    for (let t = 1; t <= 3; t++) {
      const grads = params.map((p) => randn(rng, p.spec.size, 0.05));
      const names = await step(gpu, arenas, params, opt, grads);
      // A dispatch a window of a span, not one a tensor.
      expect(names.filter((n) => n === 'adamw_update')).toHaveLength(windows);
      expect(names.filter((n) => n === 'gradnorm_partial')).toHaveLength(windows);
      expect(names.filter((n) => n === 'gradnorm_finalize')).toHaveLength(1);

      const expNorm = ref.globalNorm(grads);
      const scale = ref.clipScale(expNorm, maxNorm);
      if (maxNorm > 0) expect(scale).toBeLessThan(1);
      params.forEach((p, i) =>
        ref.adamwUpdate(values[i]!, grads[i]!, ms[i]!, vs[i]!, p.spec.size, {
          ...settings,
          weightDecay: p.spec.decay ? settings.weightDecay : 0,
          step: t,
          gradScale: scale,
        }),
      );
      const got = await gpu.readF32(opt.norm);
      expect(got[0]).toBeCloseTo(expNorm, 5);
      expect(got[1]).toBeCloseTo(scale, 6);
    }
    const state = await opt.getState();
    expect(state.step).toBe(3);
    expect([...state.m.keys()]).toEqual(params.map((p) => p.spec.name));
    for (let i = 0; i < params.length; i++) {
      const { name, size } = params[i]!.spec;
      expectClose(await gpu.readF32(params[i]!.value, 0, size), values[i]!, `params ${name}`, { rtol: 1e-5, atol: 1e-6 });
      expectClose(state.m.get(name)!, ms[i]!, `m ${name}`, { rtol: 1e-5, atol: 1e-7 });
      expectClose(state.v.get(name)!, vs[i]!, `v ${name}`, { rtol: 1e-5, atol: 1e-9 });
    }
    // The padding between tensors stays zero.
    for (const arena of arenas) {
      for (const buffer of arena.values) {
        const all = await gpu.readF32(buffer);
        const owned = new Uint8Array(all.length);
        for (const p of arena.tensors) if (p.value.buffer === buffer) owned.fill(1, p.value.offset / 4, p.value.offset / 4 + p.spec.size);
        expect(all.filter((x, i) => !owned[i] && x !== 0)).toHaveLength(0);
      }
    }
    opt.destroy();
    arenas.forEach((a) => a.destroy());
  });

  it('resumes from getState/setState exactly as it would have continued, and refuses a state that does not fit', async () => {
    const a = await setup(5, 0.5);
    const gradsOf = (rng: Rng) => a.params.map((p) => randn(rng, p.spec.size, 0.05));
    const rng = new Rng(9);
    for (let t = 0; t < 2; t++) await step(a.gpu, a.arenas, a.params, a.opt, gradsOf(rng));
    const state = await a.opt.getState();
    const weights = await Promise.all(a.params.map((p) => a.gpu.readF32(p.value, 0, p.spec.size)));

    const b = await setup(6, 0.5);
    b.params.forEach((p, i) => b.gpu.write(p.value, weights[i]!));
    const wrong = new Map(state.m);
    wrong.set('ln.bias', new Float32Array(5));
    expect(() => b.opt.setState({ ...state, m: wrong })).toThrow(/ln\.bias.*wrong size/);
    expect(b.opt.step).toBe(0);
    b.opt.setState(state);
    expect(b.opt.step).toBe(2);

    const last = gradsOf(rng);
    await step(a.gpu, a.arenas, a.params, a.opt, last);
    await step(b.gpu, b.arenas, b.params, b.opt, last);
    for (const p of a.params) {
      const q = b.params.find((x) => x.spec.name === p.spec.name)!;
      expect(await b.gpu.readF32(q.value, 0, q.spec.size), p.spec.name).toEqual(await a.gpu.readF32(p.value, 0, p.spec.size));
    }
    const [sa, sb] = [await a.opt.getState(), await b.opt.getState()];
    for (const [name, m] of sa.m) expect(sb.m.get(name), `m ${name}`).toEqual(m);
    for (const [name, v] of sa.v) expect(sb.v.get(name), `v ${name}`).toEqual(v);
  });
});

describe('global norm over an arena with a GPU\'s workgroup counts', () => {
  it('gives more workgroups to a long window than a CPU rasteriser does, and the same norm', async () => {
    const gpu = await testGpu();
    gpus.push(gpu);
    const rng = new Rng(4);
    const sizes = [300_001, 4099];
    const grads = sizes.map((n) => randn(rng, n));
    const buffers = grads.map((g, i) => upload(gpu, `g${i}`, g));
    const norms: number[] = [];
    for (const cpu of [true, false]) {
      // Only the plan reads the adapter kind; the kernels are the same.
      Object.assign(gpu, { cpu });
      const plan = planGradNorm(
        gpu,
        buffers.map((buffer, i) => ({ buffer, size: sizes[i]! })),
      );
      expect(plan.windows[0]!.groups).toBe(cpu ? 64 : Math.ceil(300_001 / (64 * 16)));
      const partials = zeros(gpu, 'partials', plan.slots);
      const norm = zeros(gpu, 'norm', 2);
      const rec = new Recorder(gpu);
      gradNorm(rec, norm, partials, plan, 0);
      rec.submit();
      norms.push((await gpu.readF32(norm))[0]!);
    }
    const expected = ref.globalNorm(grads);
    for (const n of norms) expect(Math.abs(n - expected) / expected).toBeLessThan(1e-6);
  });
});

describe('parameter arena layout', () => {
  it('puts decayed tensors first, each at an aligned offset, in windows that do not overlap', async () => {
    const gpu = await testGpu();
    gpus.push(gpu);
    const arena = new ParamArena(gpu, ARENA_SPECS, 'layout');
    expect(arena.values).toHaveLength(1);
    const order = [...arena.tensors].sort((x, y) => x.value.offset - y.value.offset);
    expect(order.map((p) => p.spec.decay)).toEqual([true, true, true, false, false, false]);
    let end = 0;
    for (const p of order) {
      expect(p.value.offset % 256).toBe(0);
      expect(p.value.offset).toBeGreaterThanOrEqual(end);
      expect(p.grad.offset).toBe(p.value.offset);
      expect(p.value.size).toBe(p.spec.size * 4);
      end = p.value.offset + p.value.size;
    }
    expect(arena.tensors.map((p) => p.spec.name)).toEqual(ARENA_SPECS.map((p) => p.name));
    arena.destroy();
  });
});
