import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { attentionBackward, attentionForward } from '../../src/kernels/attention.ts';
import * as ref from '../../src/reference/index.ts';
import { expectClose, ODD, randn, Rng, run, testGpu, upload, zeros } from '../helpers.ts';

let gpu: Gpu;
beforeAll(async () => {
  gpu = await testGpu();
});
afterAll(() => gpu?.destroy());

describe.each([
  ['odd', ODD.B, ODD.T, ODD.C, ODD.NH],
  ['one position', 2, 1, 8, 2],
  ['one head', 1, 5, 6, 1],
])('attention (%s: B=%i T=%i C=%i NH=%i)', (_name, B, T, C, NH) => {
  it('forward and backward match the reference', async () => {
    const rng = new Rng(B * 100 + T);
    const qkv = randn(rng, B * T * 3 * C);
    const dout = randn(rng, B * T * C);
    const out = zeros(gpu, 'out', B * T * C);
    const att = upload(gpu, 'att', randn(rng, B * NH * T * T)); // garbage: the masked half must be zeroed
    const dqkv = upload(gpu, 'dqkv', randn(rng, B * T * 3 * C));
    const scratch = zeros(gpu, 'scratch', B * NH * T * T);
    const qkvB = upload(gpu, 'qkv', qkv);
    await run(gpu, (rec) => {
      attentionForward(rec, out, att, qkvB, B, T, C, NH);
      attentionBackward(rec, dqkv, scratch, upload(gpu, 'dout', dout), qkvB, att, B, T, C, NH);
    });
    const expOut = new Float32Array(B * T * C);
    const expAtt = new Float32Array(B * NH * T * T);
    ref.attentionForward(expOut, expAtt, qkv, B, T, C, NH);
    const expDqkv = new Float32Array(B * T * 3 * C);
    ref.attentionBackward(expDqkv, dout, qkv, expAtt, B, T, C, NH);
    const tol = { rtol: 1e-4, atol: 1e-5 };
    expectClose(await gpu.readF32(out, 0, B * T * C), expOut, 'out', tol);
    expectClose(await gpu.readF32(att, 0, B * NH * T * T), expAtt, 'att', tol);
    expectClose(await gpu.readF32(dqkv, 0, B * T * 3 * C), expDqkv, 'dqkv', tol);
  });
});
