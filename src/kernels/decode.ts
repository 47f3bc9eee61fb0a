/**
 * Incremental decoding kernels (shaders/decode.wgsl; CPU spec in
 * src/reference/decode.ts): the embedding of each sequence's token at the
 * current position, the KV-cache write, and attention of one query per
 * sequence over its cache. Forward only; outputs assign.
 * attentionDecode runs the `cpu` or `gpu` variant of reduction.ts, by default
 * the one for the adapter, as the training attention's softmax does, so that
 * on either kind of device decoding repeats the training pass's arithmetic;
 * it takes a variant so that tests can run either.
 */
import { window, type Binding } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { vocabWindows } from './encoder.ts';
import { reductionVariant, type ReductionVariant } from './reduction.ts';

/** invocations per workgroup of the element-wise kernels and of the cpu attention_decode */
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

function params(rec: Recorder, s: DecodeShape, vocabFirst = 0, vocabCount = 0, count = 1): GPUBuffer {
  if (!(s.pos >= 0 && s.pos + count <= s.maxT)) {
    throw new Error(`decode: positions ${s.pos}..${s.pos + count - 1} are outside the cache's ${s.maxT} positions`);
  }
  // The scale as attention.ts passes it, rounded once to f32 from the exact
  // value, so that decoding scales the scores as the training softmax does.
  return rec.gpu.uniform([s.B, s.C, s.NH, s.maxT, s.pos, vocabFirst, vocabCount, count], [1 / Math.sqrt(s.C / s.NH)]);
}

/** x(B,C) = wte[seq[b,pos]] + wpe[pos]; seq is (B,maxT) i32, wte (V,C) bound in vocabulary windows. */
export function decodeEmbed(rec: Recorder, x: Binding, seq: Binding, wte: Binding, wpe: Binding, V: number, s: DecodeShape): void {
  const gpu = rec.gpu;
  const pipeline = gpu.pipeline('decode', 'decode_embed');
  for (const { first, count } of vocabWindows(gpu, V, s.C)) {
    const bindings = [params(rec, s, first, count), x, seq, window(wte, first * s.C, count * s.C), wpe];
    rec.dispatch('decode_embed', pipeline, bindings, [gpu.groupsFor(s.B * s.C, WG)], {
      flops: s.B * s.C,
      bytes: 12 * s.B * s.C,
    });
  }
}

/**
 * kcache/vcache(B,maxT,C)[b, pos+t] = k/v of qkv(B,count,3C)[b,t] for t < count:
 * one position in a decode step, a whole prefix after a batched prefill.
 */
export function kvWrite(rec: Recorder, kcache: Binding, vcache: Binding, qkv: Binding, s: DecodeShape, count = 1): void {
  const gpu = rec.gpu;
  const n = s.B * count * s.C;
  rec.dispatch('kv_write', gpu.pipeline('decode', 'kv_write'), [params(rec, s, 0, 0, count), kcache, vcache, qkv], [gpu.groupsFor(n, WG)], {
    bytes: 16 * n,
  });
}

/**
 * out(B,C) = attention of each sequence's query (the q of qkv(B,3C)) over cache
 * positions 0..pos, this one included (kvWrite first); `att` is a (B,NH,maxT)
 * scratch, left holding the probabilities at positions 0..pos.
 * Variants (decode.wgsl): `cpu` one invocation per (b, h); `gpu` a workgroup
 * of 64 lanes per (b, h).
 * Work, the same for both: the q.k and att.v multiply-adds, and per score the
 * scale, max, exp (with its subtraction), sum and normalisation. Bytes: k and
 * v of every position read once, q read, out written, and the probabilities
 * written once and read once (each kernel also rewrites att in place and
 * rereads it, from cache).
 */
export function attentionDecode(
  rec: Recorder,
  out: Binding,
  att: Binding,
  qkv: Binding,
  kcache: Binding,
  vcache: Binding,
  s: DecodeShape,
  variant?: ReductionVariant,
): void {
  const gpu = rec.gpu;
  const n = s.pos + 1;
  const heads = reductionVariant(gpu, variant) === 'gpu';
  rec.dispatch(
    'attention_decode',
    gpu.pipeline('decode', heads ? 'attention_decode_heads' : 'attention_decode'),
    [params(rec, s), out, att, qkv, kcache, vcache],
    // cpu: a grid-stride loop over (b, h); gpu: a workgroup per (b, h), striding past the dispatch limit.
    [heads ? gpu.groupsFor(s.B * s.NH, 1) : gpu.groupsFor(s.B * s.NH, WG)],
    {
      flops: 4 * s.B * n * s.C + 6 * s.B * s.NH * n,
      bytes: 4 * (2 * s.B * n * s.C + 2 * s.B * s.C + 2 * s.B * s.NH * n),
    },
  );
}
