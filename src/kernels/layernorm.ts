/**
 * LayerNorm. Activation gradients assign (dinp =, plus the residual stream's
 * `dres` when given); parameter gradients accumulate (dweight +=, dbias +=).
 * Each launcher runs the `cpu` or `gpu` variant of reduction.ts, by default
 * the one for the adapter (shaders/layernorm.wgsl has both).
 */
import type { Binding } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { partialsBuffer, reductionVariant, rowBlocks, type ReductionVariant } from './reduction.ts';

/** the cpu variant's invocations per workgroup */
const WG = 64;
/** the gpu variant's channels per workgroup in the parameter gradients' kernels */
const COLS = 64;

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
  variant?: ReductionVariant,
): void {
  const gpu = rec.gpu;
  const perRow = reductionVariant(gpu, variant) === 'gpu';
  rec.dispatch(
    'layernorm_forward',
    gpu.pipeline('layernorm', perRow ? 'layernorm_forward_rows' : 'layernorm_forward'),
    [gpu.uniform([N, C]), out, mean, rstd, inp, weight, bias],
    // The gpu variant: a workgroup per row (layernorm.wgsl strides rows past the dispatch limit).
    [perRow ? gpu.groupsFor(N, 1) : gpu.groupsFor(N, WG)],
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
  variant?: ReductionVariant,
): void {
  const gpu = rec.gpu;
  const perRow = reductionVariant(gpu, variant) === 'gpu';
  const params = gpu.uniform([N, C]);
  // Without a residual input the binding is unused; any buffer fills the slot.
  const dresOrAny = dres ?? dout;
  rec.dispatch(
    'layernorm_backward',
    gpu.pipeline('layernorm', perRow ? 'layernorm_backward_rows' : 'layernorm_backward', { HAS_RES: dres !== null }),
    [params, dinp, dout, dresOrAny, inp, weight, mean, rstd],
    [perRow ? gpu.groupsFor(N, 1) : gpu.groupsFor(N, WG)],
    { flops: 14 * N * C, bytes: 4 * ((dres ? 4 : 3) * N * C + 2 * N + C) },
  );
  if (perRow) return layernormBackwardParamsBlocked(rec, dweight, dbias, dout, inp, mean, rstd, N, C);
  rec.dispatch(
    'layernorm_backward_params',
    gpu.pipeline('layernorm', 'layernorm_backward_params'),
    [params, dweight, dbias, dout, inp, mean, rstd],
    [gpu.groupsFor(C, WG)],
    { flops: 5 * N * C, bytes: 4 * (2 * N * C + 2 * N + 4 * C) },
  );
}

/**
 * The gpu variant's parameter gradients: partial sums over blocks of rows,
 * then their sum. Profiled as `layernorm_backward_params` (the partial sums,
 * which read dout and inp and take nearly all the time) and
 * `layernorm_backward_params_combine`.
 */
function layernormBackwardParamsBlocked(
  rec: Recorder,
  dweight: Binding,
  dbias: Binding,
  dout: Binding,
  inp: Binding,
  mean: Binding,
  rstd: Binding,
  N: number,
  C: number,
): void {
  const gpu = rec.gpu;
  const { blocks, rows } = rowBlocks(N);
  const partials = partialsBuffer(gpu, 4 * blocks * 2 * C);
  const params = gpu.uniform([N, C, rows, blocks]);
  const groups = Math.ceil(C / COLS);
  rec.dispatch(
    'layernorm_backward_params',
    gpu.pipeline('layernorm', 'layernorm_backward_params_partial'),
    [params, partials, dout, inp, mean, rstd],
    [groups, blocks],
    { flops: 5 * N * C, bytes: 4 * (2 * N * C + 2 * N + 2 * blocks * C) },
  );
  rec.dispatch(
    'layernorm_backward_params_combine',
    gpu.pipeline('layernorm', 'layernorm_backward_params_combine'),
    [params, dweight, dbias, partials],
    [groups],
    { flops: 2 * blocks * C, bytes: 4 * (2 * blocks * C + 4 * C) },
  );
}
