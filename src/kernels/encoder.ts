/**
 * Token + position embedding. The token table (V,C) may exceed one storage
 * binding (GPT-2's is 154 MB); the launchers bind it in windows of vocabulary
 * rows that fit the device's limit and dispatch once per window.
 * Parameter gradients accumulate (dwte +=, dwpe +=).
 */
import { rowChunks, window, type Binding } from '../gpu/buffers.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { Recorder } from '../gpu/recorder.ts';

const WG = 256;

/** The windows of vocabulary rows a (V,C) table is bound in on this device. */
export function vocabWindows(gpu: Gpu, V: number, C: number): { first: number; count: number }[] {
  return rowChunks(V, C, gpu.limits.maxBindingBytes, gpu.limits.storageOffsetAlignment);
}

export function encoderForward(
  rec: Recorder,
  out: Binding,
  inp: Binding,
  wte: Binding,
  wpe: Binding,
  B: number,
  T: number,
  C: number,
  V: number,
): void {
  const gpu = rec.gpu;
  const N = B * T;
  const pipeline = gpu.pipeline('encoder', 'encoder_forward');
  for (const { first, count } of vocabWindows(gpu, V, C)) {
    rec.dispatch(
      'encoder_forward',
      pipeline,
      [gpu.uniform([N, T, C, first, count]), out, inp, window(wte, first * C, count * C), wpe],
      [gpu.groupsFor(N * C, WG)],
      { flops: N * C, bytes: 4 * (3 * N * C + N) },
    );
  }
}

/** `links` is an i32 scratch of 2*B*T elements. */
export function encoderBackward(
  rec: Recorder,
  dwte: Binding,
  dwpe: Binding,
  links: Binding,
  dout: Binding,
  inp: Binding,
  B: number,
  T: number,
  C: number,
  V: number,
): void {
  const gpu = rec.gpu;
  const N = B * T;
  rec.dispatch(
    'encoder_backward_links',
    gpu.pipeline('encoder', 'encoder_backward_links'),
    [gpu.uniform([N, T, C, 0, V]), links, inp],
    [gpu.groupsFor(N, WG)],
    { bytes: 4 * 3 * N },
  );
  const pipeline = gpu.pipeline('encoder', 'encoder_backward_wte');
  for (const { first, count } of vocabWindows(gpu, V, C)) {
    rec.dispatch(
      'encoder_backward_wte',
      pipeline,
      [gpu.uniform([N, T, C, first, count]), window(dwte, first * C, count * C), dout, inp, links],
      [gpu.groupsFor(N * C, WG)],
      { flops: N * C, bytes: 4 * (3 * N * C + 3 * N) },
    );
  }
  rec.dispatch(
    'encoder_backward_wpe',
    gpu.pipeline('encoder', 'encoder_backward_wpe'),
    [gpu.uniform([N, T, C, 0, 0]), dwpe, dout],
    [gpu.groupsFor(T * C, WG)],
    { flops: N * C, bytes: 4 * (N * C + 2 * T * C) },
  );
}
