/**
 * Causal multi-head self-attention over the fused QKV activation, as batched
 * gemms (one product per sequence and head) around a row-wise softmax and its
 * backward (shaders/attention.wgsl). The forward pass saves the attention
 * probabilities `att`; the backward pass uses a scratch of the same shape.
 * Activation gradients assign (dqkv =). The row-wise kernels run the `cpu` or
 * `gpu` variant of reduction.ts, by default the one for the adapter; the
 * launchers take a variant so that tests can run either.
 */
import type { Binding } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { gemm, type Operand } from './matmul.ts';
import { reductionVariant, type ReductionVariant } from './reduction.ts';

/** the cpu variant's invocations per workgroup */
const WG = 64;

/** How one head's matrices sit in the activations: products z = b * NH + h. */
function heads(B: number, T: number, C: number, NH: number) {
  const HS = C / NH;
  const C3 = 3 * C;
  // q, k or v of head h in sequence b: (T, HS) with row stride 3C
  const qkvPart = (qkv: Binding, part: 0 | 1 | 2, transposed = false): Operand => ({
    binding: qkv,
    ld: C3,
    offset: part * C,
    transposed,
    stride: [T * C3, HS],
  });
  // out or dout of head h: (T, HS) with row stride C
  const headOf = (x: Binding): Operand => ({ binding: x, ld: C, stride: [T * C, HS] });
  // att or its gradient of head h: (T, T)
  const square = (x: Binding, transposed = false): Operand => ({ binding: x, ld: T, transposed, stride: [NH * T * T, T * T] });
  return { HS, qkvPart, headOf, square, batch: { count: B * NH, inner: NH } };
}

/** The gpu variant's rows per workgroup (ROWS in attention.wgsl, a team of 32 lanes each). */
const ROWS = 8;

/**
 * The row-wise kernels, in the variant for the adapter unless one is given:
 * `cpu` one invocation per row, `gpu` a team of lanes per row (see
 * attention.wgsl). `bytes` is the traffic the step cannot avoid, the same
 * for both: every input read over the causal half, the in-place output
 * written whole (the masked half as zeros). The gpu variant reads a row a
 * second time, from cache; the cpu variant also reads the masked half.
 * `flops` counts the work on unmasked entries.
 */
function rowWise(
  rec: Recorder,
  entry: 'attention_softmax' | 'attention_softmax_backward',
  bindings: Binding[],
  B: number,
  T: number,
  HS: number,
  NH: number,
  flopsPerEntry: number,
  variant?: ReductionVariant,
): void {
  const gpu = rec.gpu;
  const rows = B * NH * T;
  const unmasked = (B * NH * T * (T + 1)) / 2;
  const teams = reductionVariant(gpu, variant) === 'gpu';
  const bytes = 4 * (bindings.length * unmasked + rows * T);
  rec.dispatch(
    entry,
    gpu.pipeline('attention', teams ? `${entry}_rows` : entry),
    [gpu.uniform([rows, T], [1 / Math.sqrt(HS)]), ...bindings],
    // Both kernels stride past the dispatch limit: rows for cpu, blocks of ROWS rows for gpu.
    [teams ? gpu.groupsFor(rows, ROWS) : gpu.groupsFor(rows, WG)],
    { flops: flopsPerEntry * unmasked, bytes },
  );
}

export function attentionForward(
  rec: Recorder,
  out: Binding,
  att: Binding,
  qkv: Binding,
  B: number,
  T: number,
  C: number,
  NH: number,
  variant?: ReductionVariant,
): void {
  const { HS, qkvPart, headOf, square, batch } = heads(B, T, C, NH);
  // scores = q k^T (scaled in the softmax)
  gemm(rec, square(att), qkvPart(qkv, 0), qkvPart(qkv, 1, true), T, T, HS, { batch, name: 'attention_scores' });
  // scale, max, exp, sum, normalise
  rowWise(rec, 'attention_softmax', [att], B, T, HS, NH, 5, variant);
  // out = att v
  gemm(rec, headOf(out), square(att), qkvPart(qkv, 2), T, HS, T, { batch, name: 'attention_values' });
}

/** `dpreatt` is a (B,NH,T,T) scratch, free for reuse afterwards. */
export function attentionBackward(
  rec: Recorder,
  dqkv: Binding,
  dpreatt: Binding,
  dout: Binding,
  qkv: Binding,
  att: Binding,
  B: number,
  T: number,
  C: number,
  NH: number,
  variant?: ReductionVariant,
): void {
  const { HS, qkvPart, headOf, square, batch } = heads(B, T, C, NH);
  // datt = dout v^T, then through the softmax (and the scale) in place
  gemm(rec, square(dpreatt), headOf(dout), qkvPart(qkv, 2, true), T, T, HS, { batch, name: 'attention_backward_probs' });
  // att * datt summed; then (datt - sum) * att * scale
  rowWise(rec, 'attention_softmax_backward', [dpreatt, att], B, T, HS, NH, 5, variant);
  // dq = dpre k, dk = dpre^T q, dv = att^T dout
  gemm(rec, qkvPart(dqkv, 0), square(dpreatt), qkvPart(qkv, 1), T, HS, T, { batch, name: 'attention_backward_query' });
  gemm(rec, qkvPart(dqkv, 1), square(dpreatt, true), qkvPart(qkv, 0), T, HS, T, { batch, name: 'attention_backward_key' });
  gemm(rec, qkvPart(dqkv, 2), square(att, true), headOf(dout), T, HS, T, { batch, name: 'attention_backward_value' });
}
