/**
 * LayerNorm. Activation gradients assign (dinp =, plus the residual stream's
 * `dres` when given); parameter gradients accumulate (dweight +=, dbias +=).
 */
import type { Binding } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';

const WG = 64;

export function layernormForward(
  rec: Recorder,
  out: Binding,
  mean: Binding,
  rstd: Binding,
  inp: Binding,
  weight: Binding,
  bias: Binding,
  N: number,
  C: number,
): void {
  const gpu = rec.gpu;
  rec.dispatch(
    'layernorm_forward',
    gpu.pipeline('layernorm', 'layernorm_forward'),
    [gpu.uniform([N, C]), out, mean, rstd, inp, weight, bias],
    [gpu.groupsFor(N, WG)],
    { flops: 8 * N * C, bytes: 4 * (2 * N * C + 2 * N + 2 * C) },
  );
}

/** `dres` is the gradient reaching the LayerNorm's input through the residual stream, or null. */
export function layernormBackward(
  rec: Recorder,
  dinp: Binding,
  dweight: Binding,
  dbias: Binding,
  dout: Binding,
  dres: Binding | null,
  inp: Binding,
  weight: Binding,
  mean: Binding,
  rstd: Binding,
  N: number,
  C: number,
): void {
  const gpu = rec.gpu;
  const params = gpu.uniform([N, C]);
  // Without a residual input the binding is unused; any buffer fills the slot.
  const dresOrAny = dres ?? dout;
  rec.dispatch(
    'layernorm_backward',
    gpu.pipeline('layernorm', 'layernorm_backward', { HAS_RES: dres !== null }),
    [params, dinp, dout, dresOrAny, inp, weight, mean, rstd],
    [gpu.groupsFor(N, WG)],
    { flops: 14 * N * C, bytes: 4 * ((dres ? 4 : 3) * N * C + 2 * N + C) },
  );
  rec.dispatch(
    'layernorm_backward_params',
    gpu.pipeline('layernorm', 'layernorm_backward_params'),
    [params, dweight, dbias, dout, inp, mean, rstd],
    [gpu.groupsFor(C, WG)],
    { flops: 5 * N * C, bytes: 4 * (2 * N * C + 2 * N + 4 * C) },
  );
}
