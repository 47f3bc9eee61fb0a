/**
 * Incremental decoding kernels: the embedding of each sequence's token at the
 * current position, the KV-cache write, and attention of one query per
 * sequence over its cache. Activations assign.
 */
import { window, type Binding } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { vocabWindows } from './encoder.ts';

const WG = 64;

export interface DecodeShape {
  B: number;
  C: number;
  NH: number;
  /** positions held by the cache and the token table `seq` */
  maxT: number;
  /** position of the token being processed */
  pos: number;
}

function params(rec: Recorder, s: DecodeShape, vocabFirst = 0, vocabCount = 0): GPUBuffer {
  return rec.gpu.uniform([s.B, s.C, s.NH, s.maxT, s.pos, vocabFirst, vocabCount]);
}

/** x(B,C) = wte[seq[b,pos]] + wpe[pos]. */
export function decodeEmbed(rec: Recorder, x: Binding, seq: Binding, wte: GPUBuffer, wpe: Binding, V: number, s: DecodeShape): void {
  const gpu = rec.gpu;
  const pipeline = gpu.pipeline('decode', 'decode_embed');
  for (const { first, count } of vocabWindows(gpu, V, s.C)) {
    rec.dispatch('decode_embed', pipeline, [params(rec, s, first, count), x, seq, window(wte, first * s.C, count * s.C), wpe], [gpu.groupsFor(s.B * s.C, WG)], {
      flops: s.B * s.C,
      bytes: 12 * s.B * s.C,
    });
  }
}

/** kcache/vcache(B,maxT,C)[b,pos] = k/v of qkv(B,3C). */
export function kvWrite(rec: Recorder, kcache: Binding, vcache: Binding, qkv: Binding, s: DecodeShape): void {
  const gpu = rec.gpu;
  rec.dispatch('kv_write', gpu.pipeline('decode', 'kv_write'), [params(rec, s), kcache, vcache, qkv], [gpu.groupsFor(s.B * s.C, WG)], {
    bytes: 16 * s.B * s.C,
  });
}

/** out(B,C) = attention of each sequence's query over cache positions 0..pos; `att` is a (B,NH,maxT) scratch. */
export function attentionDecode(
  rec: Recorder,
  out: Binding,
  att: Binding,
  qkv: Binding,
  kcache: Binding,
  vcache: Binding,
  s: DecodeShape,
): void {
  const gpu = rec.gpu;
  const n = s.pos + 1;
  rec.dispatch(
    'attention_decode',
    gpu.pipeline('decode', 'attention_decode'),
    [params(rec, s), out, att, qkv, kcache, vcache],
    [gpu.groupsFor(s.B * s.NH, WG)],
    { flops: 4 * s.B * n * s.C, bytes: 4 * (2 * s.B * n * s.C + 2 * s.B * s.C) },
  );
}
