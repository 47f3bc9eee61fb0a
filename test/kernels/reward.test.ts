import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { preferenceLoss, rewardBackward, rewardForward } from '../../src/kernels/reward.ts';
import * as ref from '../../src/reference/index.ts';
import { expectClose, ODD, randn, Rng, run, testGpu, upload, zeros } from '../helpers.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

describe('reward head and preference loss', () => {
  it('match the reference across two micro-batches, with padding rows and pair slots', async () => {
    const { T, C } = ODD;
    const total = 7; // micro-batches of 4 and 3 sequences
    const rng = new Rng(8);
    const hidden = randn(rng, total * T * C);
    const score = randn(rng, C, 0.3);
    const last = Int32Array.from([12, 0, 5, 7, 12, 3, 1]);
    // a 3-way ranking over 0..2, a pair 3>4 with a margin, a pair 5>0; row 6 is padding
    const pairs = Int32Array.from([0, 1, 0, 2, 1, 2, 3, 4, 5, 0, 0, 0]);
    const margins = Float32Array.from([0, 0, 0, 0.4, 0, 0]);
    const pairWeights = Float32Array.from([0.2, 0.2, 0.2, 0.2, 0.2, 0]);
    const rowWeights = Float32Array.from([1, 1, 1, 1, 1, 1, 0].map((x) => x / 6));
    const center = 0.05;
    const P = 6;

    const rewards = zeros(gpu, 'rewards', total);
    const dr = zeros(gpu, 'dr', total);
    const stats = zeros(gpu, 'stats', 5);
    const dscore0 = randn(rng, C);
    const dscore = upload(gpu, 'dscore', dscore0);
    const lastB = upload(gpu, 'last', last);
    const scoreB = upload(gpu, 'score', score);
    const micro = [
      { first: 0, B: 4 },
      { first: 4, B: 3 },
    ];
    const hiddenB = micro.map((m) => upload(gpu, 'hidden', hidden.slice(m.first * T * C, (m.first + m.B) * T * C)));
    const dhiddenB = micro.map((m) => upload(gpu, 'dhidden', randn(rng, m.B * T * C)));
    await run(gpu, (rec) => {
      micro.forEach((m, i) => rewardForward(rec, rewards, hiddenB[i]!, lastB, scoreB, { ...m, T, C, total, P, center }));
      preferenceLoss(rec, dr, stats, rewards, upload(gpu, 'pairs', pairs), upload(gpu, 'margins', margins), upload(gpu, 'pw', pairWeights), upload(gpu, 'rw', rowWeights), { B: total, first: 0, T, C, total, P, center });
      micro.forEach((m, i) => rewardBackward(rec, dhiddenB[i]!, dscore, dr, hiddenB[i]!, lastB, scoreB, { ...m, T, C, total, P, center }));
    });

    const expRewards = new Float32Array(total);
    ref.rewardForward(expRewards, hidden, last, score, total, T, C);
    const expDr = new Float32Array(total);
    const s = ref.preferenceLoss(expDr, expRewards, pairs, margins, pairWeights, rowWeights, center);
    const expDhidden = new Float32Array(total * T * C);
    const expDscore = dscore0.slice();
    ref.rewardBackward(expDhidden, expDscore, expDr, hidden, last, score, total, T, C);

    const tol = { rtol: 1e-5, atol: 1e-6 };
    expectClose(await gpu.readF32(rewards, 0, total), expRewards, 'rewards', tol);
    expectClose(await gpu.readF32(dr, 0, total), expDr, 'dr', tol);
    expectClose(await gpu.readF32(stats, 0, 5), [s.loss, s.accuracy, s.margin, s.chosen, s.rejected], 'stats', tol);
    for (const [i, m] of micro.entries()) {
      expectClose(await gpu.readF32(dhiddenB[i]!, 0, m.B * T * C), expDhidden.subarray(m.first * T * C, (m.first + m.B) * T * C), `dhidden ${i}`, tol);
    }
    expectClose(await gpu.readF32(dscore, 0, C), expDscore, 'dscore', tol);
  });
});
