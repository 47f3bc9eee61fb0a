import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gpu } from '../../src/gpu/gpu.ts';
import { encoderBackward, encoderForward, vocabWindows } from '../../src/kernels/encoder.ts';
import * as ref from '../../src/reference/index.ts';
import { expectClose, ODD, randn, Rng, run, testGpu, upload, zeros } from '../helpers.ts';

const { B, T, C, V } = ODD;
const maxT = T + 3;

async function check(gpu: Gpu, seed: number): Promise<void> {
  const rng = new Rng(seed);
  const inp = rng.fillInt(new Int32Array(B * T), V);
  inp[5] = inp[17]!; // repeated tokens take the summing path
  inp[6] = inp[17]!;
  inp[0] = V - 1; // the last row of the last window
  const wte = randn(rng, V * C);
  const wpe = randn(rng, maxT * C);
  const dout = randn(rng, B * T * C);
  const dwte0 = randn(rng, V * C);
  const dwpe0 = randn(rng, maxT * C);

  const out = zeros(gpu, 'out', B * T * C);
  const dwte = upload(gpu, 'dwte', dwte0);
  const dwpe = upload(gpu, 'dwpe', dwpe0);
  const inpB = upload(gpu, 'inp', inp);
  const links = zeros(gpu, 'links', 2 * B * T);
  await run(gpu, (rec) => {
    encoderForward(rec, out, inpB, upload(gpu, 'wte', wte), upload(gpu, 'wpe', wpe), B, T, C, V);
    encoderBackward(rec, dwte, dwpe, links, upload(gpu, 'dout', dout), inpB, B, T, C, V);
  });
  const expOut = new Float32Array(B * T * C);
  ref.encoderForward(expOut, inp, wte, wpe, B, T, C);
  const expDwte = dwte0.slice();
  const expDwpe = dwpe0.slice();
  ref.encoderBackward(expDwte, expDwpe, dout, inp, B, T, C);
  const tol = { rtol: 1e-5, atol: 1e-5 };
  expectClose(await gpu.readF32(out, 0, B * T * C), expOut, 'out', tol);
  expectClose(await gpu.readF32(dwte, 0, V * C), expDwte, 'dwte', tol);
  expectClose(await gpu.readF32(dwpe, 0, maxT * C), expDwpe, 'dwpe', tol);
}

describe('encoder', () => {
  let gpu: Gpu;
  beforeAll(async () => {
    gpu = await testGpu();
  });
  afterAll(() => gpu?.destroy());

  it('forward and backward match the reference (repeated tokens accumulate)', async () => {
    expect(vocabWindows(gpu, V, C)).toHaveLength(1);
    await check(gpu, 5);
  });
});

describe('encoder with the token table split across bindings', () => {
  let gpu: Gpu;
  beforeAll(async () => {
    // 20 rows of C floats per binding: the (V,C) table is bound in 6 windows.
    gpu = await testGpu({ maxBindingBytes: 20 * C * 4 });
  });
  afterAll(() => gpu?.destroy());

  it('gives the same results window by window', async () => {
    expect(vocabWindows(gpu, V, C).length).toBeGreaterThan(1);
    await check(gpu, 6);
  });
});
