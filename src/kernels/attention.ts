/**
 * Causal multi-head self-attention over the fused QKV activation. The forward
 * pass saves the attention probabilities `att`; the backward pass uses a
 * scratch of the same shape. Activation gradients assign (dqkv =).
 */
import type { Binding } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';

const WG = 64;

export function attentionForward(
  rec: Recorder,
  out: Binding,
  att: Binding,
  qkv: Binding,
  B: number,
  T: number,
  C: number,
  NH: number,
): void {
  const gpu = rec.gpu;
  const rows = B * NH * T;
  rec.dispatch(
    'attention_forward',
    gpu.pipeline('attention', 'attention_forward'),
    [gpu.uniform([B, T, C, NH]), out, att, qkv],
    [gpu.groupsFor(rows, WG)],
    // q.k and att.v over the causal half, plus the softmax
    { flops: 2 * B * T * T * C + 4 * rows * T, bytes: 4 * (3 * B * T * C + B * T * C + rows * T) },
  );
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
): void {
  const gpu = rec.gpu;
  const params = gpu.uniform([B, T, C, NH]);
  const rows = B * NH * T;
  const groups = [gpu.groupsFor(rows, WG)] as const;
  rec.dispatch(
    'attention_backward_query',
    gpu.pipeline('attention', 'attention_backward_query'),
    [params, dqkv, dpreatt, dout, qkv, att],
    groups,
    { flops: 2 * B * T * T * C + 4 * rows * T, bytes: 4 * (2 * B * T * C + 2 * rows * T + B * T * C) },
  );
  rec.dispatch(
    'attention_backward_keyvalue',
    gpu.pipeline('attention', 'attention_backward_keyvalue'),
    [params, dqkv, dpreatt, dout, qkv, att],
    groups,
    { flops: 2 * B * T * T * C, bytes: 4 * (2 * B * T * C + 2 * rows * T + 2 * B * T * C) },
  );
}
