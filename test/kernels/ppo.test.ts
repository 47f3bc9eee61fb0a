import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { ppoGae, ppoPolicyLoss, ppoRewards, tokenLogprobs, valueBackward, valueForward, valueLoss, dotSum, whiten } from '../../src/kernels/ppo.ts';
import { ppo as ref } from '../../src/reference/index.ts';
import { expectClose, randn, Rng, run, testGpu, upload, zeros } from '../helpers.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

const B = 3;
const T = 7;
const V = 101;
const C = 72;
const N = B * T;
const tol = { rtol: 1e-4, atol: 1e-6 };

describe('PPO kernels', () => {
  it('token log-probs and entropy, and the policy loss gradient, in two chunks of rows', async () => {
    const rng = new Rng(4);
    const logits = randn(rng, N * V, 2);
    const targets = rng.fillInt(new Int32Array(N), V);
    const adv = randn(rng, N);
    const weights = Float32Array.from({ length: N }, (_, i) => (i % T >= 2 && i % T < 6 ? 1 / (4 * B) : 0));
    const invTemp = 1 / 0.8;
    const expLogp = new Float32Array(N);
    const expEnt = new Float32Array(N);
    ref.tokenLogprobs(expLogp, expEnt, logits, targets, N, V, invTemp);
    const old = expLogp.map((x, i) => x + (i % 3 === 0 ? 0.4 : -0.05));
    const expD = new Float32Array(N * V);
    const stats = ref.ppoPolicyLoss(expD, logits, targets, old, adv, weights, N, V, invTemp, 0.2);

    const logp = zeros(gpu, 'logp', N);
    const ent = zeros(gpu, 'ent', N);
    const tokLoss = zeros(gpu, 'loss', N);
    const tokStats = zeros(gpu, 'stats', 3 * N);
    const [targetsB, oldB, advB, wB] = [upload(gpu, 't', targets), upload(gpu, 'o', old), upload(gpu, 'a', adv), upload(gpu, 'w', weights)];
    const chunks = [
      { first: 0, rows: 8 },
      { first: 8, rows: N - 8 },
    ];
    const logitsB = chunks.map((c) => upload(gpu, 'logits', logits.slice(c.first * V, (c.first + c.rows) * V)));
    await run(gpu, (rec) => {
      chunks.forEach((c, i) => {
        const p = { R: c.rows, V, rowOffset: c.first, B, T, invTemp, clip: 0.2 };
        tokenLogprobs(rec, logp, ent, logitsB[i]!, targetsB, p);
        ppoPolicyLoss(rec, logitsB[i]!, tokLoss, tokStats, targetsB, oldB, advB, wB, p);
      });
    });
    expectClose(await gpu.readF32(logp, 0, N), expLogp, 'logprob', tol);
    expectClose(await gpu.readF32(ent, 0, N), expEnt, 'entropy', tol);
    for (const [i, c] of chunks.entries()) {
      expectClose(await gpu.readF32(logitsB[i]!, 0, c.rows * V), expD.subarray(c.first * V, (c.first + c.rows) * V), `dlogits ${i}`, tol);
    }
    const sum = (a: Float32Array) => a.reduce((x, y) => x + y, 0);
    const s = await gpu.readF32(tokStats, 0, 3 * N);
    expect(sum(await gpu.readF32(tokLoss, 0, N))).toBeCloseTo(stats.loss, 5);
    expect(sum(s.subarray(0, N))).toBeCloseTo(stats.clipfrac, 5);
    expect(sum(s.subarray(N, 2 * N))).toBeCloseTo(stats.approxkl, 5);
    expect(sum(s.subarray(2 * N))).toBeCloseTo(stats.ratio, 5);
    expect(stats.clipfrac).toBeGreaterThan(0);
  });

  it('rewards with the KL penalty (k1 and k3), optionally whitened, and GAE', async () => {
    const rng = new Rng(5);
    const logp = randn(rng, N, 0.5);
    const refLogp = randn(rng, N, 0.5);
    const values = randn(rng, N);
    const scores = randn(rng, B);
    const span = Int32Array.from([2, 0, 3, 5, 6, 3]);
    const weights = new Float32Array(N);
    let n = 0;
    for (let b = 0; b < B; b++) n += span[B + b]! - span[b]! + 1;
    for (let b = 0; b < B; b++) weights.fill(1 / n, b * T + span[b]!, b * T + span[B + b]! + 1);
    for (const [k3, whitened] of [[false, false], [true, false], [false, true]] as const) {
      const o = { beta: 0.05, gamma: 0.99, lam: 0.95, k3 };
      const [rewards, adv, ret, kl] = [zeros(gpu, 'rewards', N), zeros(gpu, 'adv', N), zeros(gpu, 'ret', N), zeros(gpu, 'kl', N)];
      const spanB = upload(gpu, 'span', span);
      const p = { R: N, B, T, klK3: k3, beta: o.beta, gamma: o.gamma, lam: o.lam };
      await run(gpu, (rec) => {
        ppoRewards(rec, rewards, kl, upload(gpu, 'lp', logp), upload(gpu, 'ref', refLogp), upload(gpu, 's', scores), spanB, p);
        if (whitened) whiten(rec, rewards, upload(gpu, 'w', weights), N, n, false);
        ppoGae(rec, adv, ret, rewards, upload(gpu, 'v', values), spanB, p);
      });
      const [eR, eA, eRet, eK] = [new Float32Array(N), new Float32Array(N), new Float32Array(N), new Float32Array(N)];
      ref.ppoRewards(eR, eK, logp, refLogp, scores, span, B, T, o);
      if (whitened) ref.whiten(eR, eR.slice(), weights, N, n, false);
      ref.ppoGae(eA, eRet, eR, values, span, B, T, o);
      const label = `k3=${k3} whitened=${whitened}`;
      expectClose(await gpu.readF32(rewards, 0, N), eR, `rewards ${label}`, tol);
      expectClose(await gpu.readF32(adv, 0, N), eA, `advantages ${label}`, tol);
      expectClose(await gpu.readF32(ret, 0, N), eRet, `returns ${label}`, tol);
      expectClose(await gpu.readF32(kl, 0, N), eK, `kl ${label}`, tol);
    }
  });

  it('whitens counted advantages and sums in a fixed order', async () => {
    const rng = new Rng(7);
    const adv = randn(rng, N, 3);
    const counted = [...Array(N).keys()].filter((i) => i % 3 !== 0);
    const weights = Float32Array.from({ length: N }, (_, i) => (i % 3 !== 0 ? 1 / counted.length : 0));
    const advB = upload(gpu, 'adv', adv);
    const total = zeros(gpu, 'total', 4);
    await run(gpu, (rec) => {
      whiten(rec, advB, upload(gpu, 'w', weights), N, counted.length);
      dotSum(rec, total, 3, advB, upload(gpu, 'ones', new Float32Array(N).fill(2)), N);
    });
    const got = await gpu.readF32(advB, 0, N);
    const expected = new Float32Array(N);
    ref.whiten(expected, adv, weights, N, counted.length);
    expectClose(got, expected, 'whitened', tol);
    const mean = counted.reduce((a, i) => a + got[i]!, 0) / counted.length;
    const variance = counted.reduce((a, i) => a + (got[i]! - mean) ** 2, 0) / (counted.length - 1);
    expect(mean).toBeCloseTo(0, 5);
    expect(variance).toBeCloseTo(1, 4);
    expect((await gpu.readF32(total))[3]).toBeCloseTo(2 * got.reduce((a, b) => a + b, 0), 5);
  });

  it('value head forward, clipped value loss and backward', async () => {
    const rng = new Rng(6);
    const hidden = randn(rng, N * C);
    const w = randn(rng, C, 0.1);
    const old = randn(rng, N);
    const returns = randn(rng, N);
    const weights = Float32Array.from({ length: N }, (_, i) => (i % 2 ? 1 / N : 0));
    const dw0 = randn(rng, C);
    const values = zeros(gpu, 'values', N);
    const dv = zeros(gpu, 'dv', N);
    const vstats = zeros(gpu, 'vstats', 2 * N);
    const dhidden = zeros(gpu, 'dh', N * C);
    const dw = upload(gpu, 'dw', dw0);
    const [hB, wB] = [upload(gpu, 'h', hidden), upload(gpu, 'w', w)];
    await run(gpu, (rec) => {
      valueForward(rec, values, hB, wB, { R: N, C });
      valueLoss(rec, dv, vstats, values, upload(gpu, 'old', old), upload(gpu, 'ret', returns), upload(gpu, 'wt', weights), { R: N, clip: 0.2 });
      valueBackward(rec, dhidden, dw, dv, hB, wB, { R: N, C });
    });
    const eV = new Float32Array(N);
    ref.valueForward(eV, hidden, w, N, C);
    const eDv = new Float32Array(N);
    ref.valueLoss(eDv, eV, old, returns, weights, N, 0.2);
    const eDh = new Float32Array(N * C);
    const eDw = dw0.slice();
    ref.valueBackward(eDh, eDw, eDv, hidden, w, N, C);
    expectClose(await gpu.readF32(values, 0, N), eV, 'values', tol);
    expectClose(await gpu.readF32(dv, 0, N), eDv, 'dvalues', tol);
    expectClose(await gpu.readF32(dhidden, 0, N * C), eDh, 'dhidden', tol);
    expectClose(await gpu.readF32(dw, 0, C), eDw, 'dw', tol);
  });
});
