/** GELU (tanh form). Activation gradients assign. */
import type { Binding } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';

const WG = 256;

export function geluForward(rec: Recorder, out: Binding, inp: Binding, n: number): void {
  const gpu = rec.gpu;
  rec.dispatch('gelu_forward', gpu.pipeline('gelu', 'gelu_forward'), [gpu.uniform([n]), out, inp], [gpu.groupsFor(n, WG)], {
    flops: 15 * n,
    bytes: 8 * n,
  });
}

export function geluBackward(rec: Recorder, dinp: Binding, dout: Binding, inp: Binding, n: number): void {
  const gpu = rec.gpu;
  rec.dispatch(
    'gelu_backward',
    gpu.pipeline('gelu', 'gelu_backward'),
    [gpu.uniform([n]), dinp, dout, inp],
    [gpu.groupsFor(n, WG)],
    { flops: 25 * n, bytes: 12 * n },
  );
}
