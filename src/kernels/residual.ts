/** Residual add. Its backward is the identity, fused into layernormBackward's `dres`. */
import type { Binding } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';

const WG = 256;

export function residualForward(rec: Recorder, out: Binding, a: Binding, b: Binding, n: number): void {
  const gpu = rec.gpu;
  rec.dispatch(
    'residual_forward',
    gpu.pipeline('residual', 'residual_forward'),
    [gpu.uniform([n]), out, a, b],
    [gpu.groupsFor(n, WG)],
    { flops: n, bytes: 12 * n },
  );
}
