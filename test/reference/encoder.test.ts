import { describe, it, expect } from 'vitest';
import { encoderBackward, encoderForward } from '../../src/reference/encoder.ts';
import { Rng } from '../../src/reference/random.ts';
import { dot, expectAllClose, expectGradClose, numericGrad, randn64, scaled } from './helpers.ts';

describe('encoder reference', () => {
  it('adds the token row and the position row', () => {
    const wte = Float64Array.of(1, 2, 3, 4, 5, 6); // V=3, C=2
    const wpe = Float64Array.of(10, 20, 30, 40, 99, 99); // maxT=3
    const inp = Int32Array.of(2, 0, 1, 1); // B=2, T=2
    const out = new Float64Array(8);
    encoderForward(out, inp, wte, wpe, 2, 2, 2);
    expectAllClose('out', out, [15, 26, 31, 42, 13, 24, 33, 44]);
  });

  it('rejects a token id outside the vocabulary', () => {
    const wte = new Float64Array(6);
    const wpe = new Float64Array(4);
    const out = new Float64Array(4);
    expect(() => encoderForward(out, Int32Array.of(0, 3), wte, wpe, 1, 2, 2)).toThrow(RangeError);
    expect(() => encoderBackward(wte, wpe, out, Int32Array.of(-1, 0), 1, 2, 2)).toThrow(RangeError);
  });

  // B*T = 10 positions over V = 7 tokens, so some tokens repeat; maxT > T
  // leaves a wpe row whose gradient must stay zero.
  const B = 2, T = 5, C = 12, V = 7, maxT = 6;

  function setup() {
    const rng = new Rng(1);
    const inp = rng.fillInt(new Int32Array(B * T), V);
    inp[0] = inp[9] = 3; // make sure at least one token repeats
    return { rng, inp, wte: randn64(rng, V * C), wpe: randn64(rng, maxT * C), R: randn64(rng, B * T * C) };
  }

  it('backward matches finite differences', () => {
    const { inp, wte, wpe, R } = setup();
    const out = new Float64Array(B * T * C);
    const loss = () => {
      encoderForward(out, inp, wte, wpe, B, T, C);
      return dot(out, R);
    };
    const dwte = new Float64Array(V * C);
    const dwpe = new Float64Array(maxT * C);
    encoderBackward(dwte, dwpe, R, inp, B, T, C);
    expectGradClose('dwte', dwte, numericGrad(wte, loss));
    expectGradClose('dwpe', dwpe, numericGrad(wpe, loss));
  });

  it('accumulates parameter gradients', () => {
    const { inp, R } = setup();
    const dwte = new Float64Array(V * C);
    const dwpe = new Float64Array(maxT * C);
    encoderBackward(dwte, dwpe, R, inp, B, T, C);
    const once = [dwte.slice(), dwpe.slice()];
    encoderBackward(dwte, dwpe, R, inp, B, T, C);
    expectAllClose('dwte', dwte, scaled(once[0], 2));
    expectAllClose('dwpe', dwpe, scaled(once[1], 2));
  });
});
