/**
 * Generation on the GPU: incremental decoding with a KV cache for a batch of
 * prompts of different lengths, greedy or sampled (temperature, top-k, top-p,
 * seeded), stopping at EOS or a token limit. Nothing is read back while
 * decoding except the per-sequence done flags, every STEPS_PER_SUBMIT steps,
 * to stop early once every sequence has ended.
 *
 * Lock-step decoding: step s feeds the token at position s of every sequence
 * through the model (one row per sequence, so every kernel is a training
 * kernel on B rows, plus shaders/decode.wgsl), appends its k and v to the
 * layer caches at position s, and chooses the token for position s+1. While
 * position s+1 is still inside a sequence's prompt, the prompt's own token
 * stays there instead (the part of a longer prompt beyond the batched prefill
 * below is read one token a step). Each sequence keeps its own
 * positions 0, 1, 2, ... with no padding in front, which GPT-2's learned
 * position embeddings need; a short prompt simply starts generating earlier.
 * After EOS (or its maxNewTokens-th token) a sequence is padded; the padding
 * is not reported.
 *
 * Batched prefill: the positions every prompt covers before the shortest one
 * makes its first choice (0 .. min length - 2) go through the model in one
 * pass of B x P rows (the training kernels, causal attention over the prefix)
 * that fills the caches; lock-step decoding continues from there.
 * attention_decode repeats the training attention's arithmetic, so the caches
 * and every later logit are those of decoding the positions one by one (to
 * rounding, where a device fuses multiply-adds), at a fraction of the
 * dispatches and with full matmul tiles.
 *
 * kvCache: false recomputes the whole forward pass over every prefix each
 * step with a GPT sharing the parameters and chooses with the CPU reference
 * sampler (src/kernels/sampling-cpu.ts), which makes the same choices as the
 * GPU kernel: the baseline the cache is measured against, and the tests'
 * oracle.
 */
import { window } from '../gpu/buffers.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { Profiler } from '../gpu/profiler.ts';
import { Recorder } from '../gpu/recorder.ts';
import { attentionForward } from '../kernels/attention.ts';
import { attentionDecode, decodeEmbed, kvWrite, type DecodeShape } from '../kernels/decode.ts';
import { encoderForward, vocabWindows } from '../kernels/encoder.ts';
import { geluForward } from '../kernels/gelu.ts';
import { layernormForward } from '../kernels/layernorm.ts';
import { gemm, matmulForward } from '../kernels/matmul.ts';
import { residualForward } from '../kernels/residual.ts';
import { sampleTokens, type SamplingSettings, type SequenceRules } from '../kernels/sampling.ts';
import { sampleStep } from '../kernels/sampling-cpu.ts';
import { GPT } from './gpt.ts';

export interface GenerateOptions {
  /** tokens each sequence may generate (EOS included) */
  maxNewTokens: number;
  /** 0 = greedy (default 1) */
  temperature?: number;
  /** keep the k most probable tokens; 0 = off (default) */
  topK?: number;
  /** keep the smallest set of most probable tokens holding this much probability; 1 = off (default) */
  topP?: number;
  /** the draws are a pure function of (seed, position, batch row); default 0 */
  seed?: number;
  /** the end-of-sequence token; -1 for none (every sequence runs to maxNewTokens) */
  eosId: number;
  /**
   * Only ids below this are sampled: the tokenizer's vocabulary, when the
   * model's is padded beyond it (llm.c pads GPT-2's 50257 to 50304); the
   * padded ids have no text and are never chosen, and logprobs are over the
   * ids that may be. Default: the model's whole vocabulary.
   */
  vocabLimit?: number;
  /** false recomputes the whole prefix every step: the baseline the cache is measured against (default true) */
  kvCache?: boolean;
  /** times every dispatch of the KV-cache path */
  profiler?: Profiler;
}

export interface Generation {
  /** generated tokens of each prompt, up to and including EOS */
  responses: Int32Array[];
  /** log-probability of each generated token under the temperature-scaled distribution over ids below vocabLimit (temperature 1 when greedy) */
  logprobs: Float32Array[];
  /** the response ended with EOS (not at the token limit) */
  finished: boolean[];
}

/** Decode steps recorded per submission between looks at the done flags. */
const STEPS_PER_SUBMIT = 8;
/** Largest activation buffer a batched prefill may need; longer prefixes are partly decoded step by step. */
const PREFILL_BUFFER_BYTES = 64 * 2 ** 20;

interface LayerCache {
  /** (maxBatch,maxLength,C) */
  k: GPUBuffer;
  /** (maxBatch,maxLength,C) */
  v: GPUBuffer;
}

export class Generator {
  readonly maxBatch: number;
  /** prompt plus generated tokens, at most */
  readonly maxLength: number;
  private readonly gpu: Gpu;
  /** prompt positions one batched prefill covers at most */
  readonly prefillLimit: number;
  /**
   * Generation state (seq, logprobs, done, promptLen: B rows), the logits
   * (B,V), and activations with room for a prefill's B x prefillLimit rows
   * (a decode step uses the first B).
   */
  private readonly buffers: Record<
    | 'seq'
    | 'logprobs'
    | 'done'
    | 'promptLen'
    | 'prefillTokens'
    | 'x'
    | 'x2'
    | 'ln'
    | 'mean'
    | 'rstd'
    | 'qkv'
    | 'atty'
    | 'att'
    | 'proj'
    | 'fch'
    | 'fchGelu'
    | 'logits',
    GPUBuffer
  >;
  private readonly caches: LayerCache[];
  private readonly doneReadback: GPUBuffer;
  private fullModel: GPT | null = null;
  private steps = 0;

  constructor(
    private readonly model: GPT,
    options: { maxBatch: number; maxLength: number },
  ) {
    const { nLayer: L, nEmbd: C, nHead: NH, vocabSize: V, nPositions } = model.config;
    const { maxBatch: B, maxLength: T } = options;
    if (!Number.isInteger(B) || B < 1) throw new Error(`Generator: maxBatch must be a positive integer, got ${B}`);
    if (!Number.isInteger(T) || T < 1) throw new Error(`Generator: maxLength must be a positive integer, got ${T}`);
    if (T > nPositions) throw new Error(`Generator: maxLength ${T} exceeds the model's context of ${nPositions} positions (nPositions)`);
    this.gpu = model.gpu;
    this.maxBatch = B;
    this.maxLength = T;
    const limit = this.gpu.limits.maxBindingBytes;
    for (const [what, bytes] of [
      ['a layer of the KV cache (maxBatch x maxLength x C floats)', B * T * C * 4],
      ['the logits (maxBatch x V floats)', B * V * 4],
    ] as const) {
      if (bytes > limit) {
        throw new Error(`Generator: ${what} needs ${bytes} bytes, more than one storage binding holds (${limit}); lower maxBatch or maxLength`);
      }
    }
    // A prompt of length n makes its first choice at position n-1, and n <= T-1.
    let P = T - 2;
    const prefillBytes = (p: number) => 4 * Math.max(B * p * 4 * C, B * NH * p * p);
    while (P > 0 && prefillBytes(P) > Math.min(limit, PREFILL_BUFFER_BYTES)) P--;
    this.prefillLimit = Math.max(P, 0);
    const R = B * Math.max(1, this.prefillLimit);
    const f = (label: string, n: number) => this.gpu.createBuffer(`generate.${label}`, n * 4);
    this.buffers = {
      seq: f('seq', B * T),
      logprobs: f('logprobs', B * T),
      done: f('done', B),
      promptLen: f('promptLen', B),
      prefillTokens: f('prefillTokens', R),
      x: f('x', R * C),
      x2: f('x2', R * C),
      ln: f('ln', R * C),
      mean: f('mean', R),
      rstd: f('rstd', R),
      qkv: f('qkv', R * 3 * C),
      atty: f('atty', R * C),
      att: f('att', Math.max(B * NH * T, B * NH * this.prefillLimit ** 2)),
      proj: f('proj', R * C),
      fch: f('fch', R * 4 * C),
      fchGelu: f('fchGelu', R * 4 * C),
      logits: f('logits', B * V),
    };
    this.caches = Array.from({ length: L }, (_, l) => ({ k: f(`k.${l}`, B * T * C), v: f(`v.${l}`, B * T * C) }));
    this.doneReadback = this.gpu.device.createBuffer({
      label: 'generate.doneReadback',
      size: Math.max(16, Math.ceil((B * 4) / 16) * 16),
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
    });
  }

  /** Lock-step positions the last generate() processed (it stops early once every sequence is done). */
  get lastSteps(): number {
    return this.steps;
  }

  async generate(prompts: readonly ArrayLike<number>[], o: GenerateOptions): Promise<Generation> {
    const B = prompts.length;
    const T = this.maxLength;
    const { vocabSize: V, nPositions } = this.model.config;
    if (B === 0) throw new Error('generate: no prompts');
    if (B > this.maxBatch) throw new Error(`generate: ${B} prompts, more than this generator's maxBatch of ${this.maxBatch}`);
    if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 1) {
      throw new Error(`generate: maxNewTokens must be a positive integer, got ${o.maxNewTokens}`);
    }
    prompts.forEach((p, i) => {
      if (p.length === 0) throw new Error(`generate: prompt ${i} is empty`);
      if (p.length > T) throw new Error(`generate: prompt ${i} has ${p.length} tokens, more than this generator's maxLength of ${T}`);
      const needs = `prompt ${i} has ${p.length} tokens; with ${o.maxNewTokens} new tokens it needs ${p.length + o.maxNewTokens} positions`;
      if (p.length + o.maxNewTokens > nPositions) throw new Error(`generate: ${needs}, beyond the model's context of ${nPositions} (nPositions)`);
      if (p.length + o.maxNewTokens > T) throw new Error(`generate: ${needs}, beyond this generator's maxLength of ${T}`);
      for (let j = 0; j < p.length; j++) {
        if (!(Number.isInteger(p[j]) && p[j]! >= 0 && p[j]! < V)) {
          throw new Error(`generate: prompt ${i} holds token ${p[j]} at ${j}, outside the vocabulary [0, ${V})`);
        }
      }
    });
    const sampling: SamplingSettings = { temperature: o.temperature ?? 1, topK: o.topK ?? 0, topP: o.topP ?? 1, seed: o.seed ?? 0 };
    if (!(sampling.temperature >= 0 && Number.isFinite(sampling.temperature))) {
      throw new Error(`generate: temperature must be a finite number >= 0 (0 = greedy), got ${sampling.temperature}`);
    }
    if (!(Number.isInteger(sampling.topK) && sampling.topK >= 0)) {
      throw new Error(`generate: topK must be an integer >= 0 (0 = off), got ${sampling.topK}`);
    }
    if (!(sampling.topP > 0 && sampling.topP <= 1)) throw new Error(`generate: topP must be in (0, 1] (1 = off), got ${sampling.topP}`);
    if (!Number.isInteger(sampling.seed)) throw new Error(`generate: seed must be an integer, got ${sampling.seed}`);
    const vocab = o.vocabLimit ?? V;
    if (!(Number.isInteger(vocab) && vocab >= 1 && vocab <= V)) {
      throw new Error(`generate: vocabLimit must be an integer in [1, ${V}] (the model's vocabulary), got ${o.vocabLimit}`);
    }
    if (!(Number.isInteger(o.eosId) && o.eosId >= -1 && o.eosId < vocab)) {
      throw new Error(`generate: eosId must be a token id in [0, ${vocab}) or -1 for none, got ${o.eosId}`);
    }
    const rules: SequenceRules = { eos: o.eosId, pad: Math.max(o.eosId, 0), maxNew: o.maxNewTokens, vocab };
    const lengths = prompts.map((p) => p.length);
    const seq = new Int32Array(B * T).fill(rules.pad);
    prompts.forEach((p, i) => seq.set(Array.from(p), i * T));

    const { tokens, logprobs } =
      (o.kvCache ?? true)
        ? await this.decodeWithCache(seq, lengths, rules, sampling, o.profiler)
        : await this.decodeWithoutCache(seq, lengths, rules, sampling);

    const result: Generation = { responses: [], logprobs: [], finished: [] };
    for (let b = 0; b < B; b++) {
      const first = b * T + lengths[b]!;
      const row = tokens.subarray(first, first + o.maxNewTokens);
      const eosAt = o.eosId >= 0 ? row.indexOf(o.eosId) : -1;
      const n = eosAt >= 0 ? eosAt + 1 : row.length;
      result.responses.push(row.slice(0, n));
      result.logprobs.push(logprobs.slice(first, first + n));
      result.finished.push(eosAt >= 0);
    }
    return result;
  }

  destroy(): void {
    for (const b of Object.values(this.buffers)) b.destroy();
    for (const c of this.caches) {
      c.k.destroy();
      c.v.destroy();
    }
    this.doneReadback.destroy();
    this.fullModel?.destroy();
    // Bind groups cached on the device hold these buffers; let them go too.
    this.gpu.clearBindGroups();
  }

  /** The GPU path: decode steps and the sampling kernel, submitted STEPS_PER_SUBMIT steps at a time. */
  private async decodeWithCache(
    seq: Int32Array,
    lengths: number[],
    rules: SequenceRules,
    sampling: SamplingSettings,
    profiler?: Profiler,
  ): Promise<{ tokens: Int32Array; logprobs: Float32Array }> {
    const B = lengths.length;
    const T = this.maxLength;
    const V = this.model.config.vocabSize;
    const a = this.buffers;
    this.gpu.write(a.seq, seq);
    this.gpu.write(a.promptLen, Uint32Array.from(lengths));
    this.gpu.write(a.done, new Uint32Array(B));
    this.gpu.write(a.logprobs, new Float32Array(B * T));
    const state = { seq: a.seq, logprobs: a.logprobs, done: a.done, promptLen: a.promptLen };
    // The step whose token is the last any sequence may generate.
    const lastStep = Math.max(...lengths) + rules.maxNew - 2;
    // Before this step no sequence has generated anything, so none can be done.
    const firstChoice = Math.min(...lengths) - 1;
    const P = Math.min(firstChoice, this.prefillLimit);
    let s = 0;
    while (s <= lastStep) {
      const rec = new Recorder(this.gpu, profiler);
      if (s === 0 && P > 0) {
        this.recordPrefill(rec, seq, B, P);
        s = P;
      }
      const end = Math.min(lastStep + 1, s + STEPS_PER_SUBMIT);
      for (; s < end; s++) {
        this.recordDecodeStep(rec, B, s);
        sampleTokens(rec, state, a.logits, B, V, T, s, rules, sampling);
      }
      const look = s <= lastStep && s > firstChoice;
      if (look) rec.copy(a.done, 0, this.doneReadback, 0, B * 4);
      rec.submit();
      if (look) {
        await this.doneReadback.mapAsync(GPUMapMode.READ);
        const done = new Uint32Array(this.doneReadback.getMappedRange(), 0, B).every((d) => d === 1);
        this.doneReadback.unmap();
        if (done) break;
      }
    }
    this.steps = s;
    return { tokens: await this.gpu.readI32(a.seq, 0, B * T), logprobs: await this.gpu.readF32(a.logprobs, 0, B * T) };
  }

  /**
   * Positions 0..P-1 of every sequence (all prompt) through the model at once,
   * B x P rows, leaving their keys and values in the caches. No logits: no
   * choice is made inside the prompts.
   */
  private recordPrefill(rec: Recorder, seq: Int32Array, B: number, P: number): void {
    const { nLayer: L, nEmbd: C, nHead: NH, vocabSize: V } = this.model.config;
    const T = this.maxLength;
    const N = B * P;
    const w = (name: string) => this.model.param(name).value;
    const a = this.buffers;
    const tokens = new Int32Array(N);
    for (let b = 0; b < B; b++) tokens.set(seq.subarray(b * T, b * T + P), b * P);
    this.gpu.write(a.prefillTokens, tokens);
    encoderForward(rec, a.x, a.prefillTokens, w('wte.weight'), w('wpe.weight'), B, P, C, V);
    for (let l = 0; l < L; l++) {
      const h = `h.${l}.`;
      const cache = this.caches[l]!;
      layernormForward(rec, a.ln, a.mean, a.rstd, a.x, w(`${h}ln_1.weight`), w(`${h}ln_1.bias`), N, C);
      matmulForward(rec, a.qkv, a.ln, w(`${h}attn.c_attn.weight`), w(`${h}attn.c_attn.bias`), N, C, 3 * C);
      kvWrite(rec, cache.k, cache.v, a.qkv, { B, C, NH, maxT: T, pos: 0 }, P);
      attentionForward(rec, a.atty, a.att, a.qkv, B, P, C, NH);
      matmulForward(rec, a.proj, a.atty, w(`${h}attn.c_proj.weight`), w(`${h}attn.c_proj.bias`), N, C, C);
      residualForward(rec, a.x2, a.x, a.proj, N * C);
      layernormForward(rec, a.ln, a.mean, a.rstd, a.x2, w(`${h}ln_2.weight`), w(`${h}ln_2.bias`), N, C);
      matmulForward(rec, a.fch, a.ln, w(`${h}mlp.c_fc.weight`), w(`${h}mlp.c_fc.bias`), N, C, 4 * C);
      geluForward(rec, a.fchGelu, a.fch, N * 4 * C);
      matmulForward(rec, a.proj, a.fchGelu, w(`${h}mlp.c_proj.weight`), w(`${h}mlp.c_proj.bias`), N, 4 * C, C);
      residualForward(rec, a.x, a.x2, a.proj, N * C);
    }
  }

  /** One token per sequence through the model at position s, into logits (B,V). */
  private recordDecodeStep(rec: Recorder, B: number, s: number): void {
    const { nLayer: L, nEmbd: C, nHead: NH, vocabSize: V } = this.model.config;
    const shape: DecodeShape = { B, C, NH, maxT: this.maxLength, pos: s };
    const w = (name: string) => this.model.param(name).value;
    const a = this.buffers;
    decodeEmbed(rec, a.x, a.seq, w('wte.weight'), w('wpe.weight'), V, shape);
    for (let l = 0; l < L; l++) {
      const h = `h.${l}.`;
      const cache = this.caches[l]!;
      layernormForward(rec, a.ln, a.mean, a.rstd, a.x, w(`${h}ln_1.weight`), w(`${h}ln_1.bias`), B, C);
      matmulForward(rec, a.qkv, a.ln, w(`${h}attn.c_attn.weight`), w(`${h}attn.c_attn.bias`), B, C, 3 * C);
      kvWrite(rec, cache.k, cache.v, a.qkv, shape);
      attentionDecode(rec, a.atty, a.att, a.qkv, cache.k, cache.v, shape);
      matmulForward(rec, a.proj, a.atty, w(`${h}attn.c_proj.weight`), w(`${h}attn.c_proj.bias`), B, C, C);
      residualForward(rec, a.x2, a.x, a.proj, B * C);
      layernormForward(rec, a.ln, a.mean, a.rstd, a.x2, w(`${h}ln_2.weight`), w(`${h}ln_2.bias`), B, C);
      matmulForward(rec, a.fch, a.ln, w(`${h}mlp.c_fc.weight`), w(`${h}mlp.c_fc.bias`), B, C, 4 * C);
      geluForward(rec, a.fchGelu, a.fch, B * 4 * C);
      matmulForward(rec, a.proj, a.fchGelu, w(`${h}mlp.c_proj.weight`), w(`${h}mlp.c_proj.bias`), B, 4 * C, C);
      residualForward(rec, a.x, a.x2, a.proj, B * C);
    }
    layernormForward(rec, a.ln, a.mean, a.rstd, a.x, w('ln_f.weight'), w('ln_f.bias'), B, C);
    // The tied LM head, logits(B,V) = ln(B,C) wte(V,C)^T, in windows of wte that fit a binding.
    const wte = w('wte.weight');
    for (const { first, count } of vocabWindows(this.gpu, V, C)) {
      gemm(
        rec,
        { binding: a.logits, ld: V, offset: first },
        { binding: a.ln, ld: C },
        { binding: window(wte, first * C, count * C), ld: C, transposed: true },
        B,
        count,
        C,
        { name: 'matmul_lm_head' },
      );
    }
  }

  /**
   * The baseline: every step runs the full model over the whole (B, maxLength)
   * token table (causal attention makes row s depend on positions 0..s only)
   * and the CPU reference sampler chooses from row s. Steps where every
   * sequence is still inside its prompt need no logits and are skipped.
   */
  private async decodeWithoutCache(
    seq: Int32Array,
    lengths: number[],
    rules: SequenceRules,
    sampling: SamplingSettings,
  ): Promise<{ tokens: Int32Array; logprobs: Float32Array }> {
    const B = lengths.length;
    const T = this.maxLength;
    const V = this.model.config.vocabSize;
    if (this.fullModel?.batchSize !== B) {
      this.fullModel?.destroy();
      this.fullModel = new GPT(this.gpu, this.model.config, B, T, { shareParametersWith: this.model });
    }
    const logprobs = new Float32Array(B * T);
    const done = new Uint8Array(B);
    const rows = new Float32Array(B * V);
    const lastStep = Math.max(...lengths) + rules.maxNew - 2;
    let s = Math.min(...lengths) - 1;
    for (; s <= lastStep && !done.every((d) => d === 1); s++) {
      const logits = await this.fullModel.logits({ tokens: seq, targets: seq });
      for (let b = 0; b < B; b++) rows.set(logits.subarray((b * T + s) * V, (b * T + s + 1) * V), b * V);
      sampleStep(seq, logprobs, done, rows, lengths, B, V, T, s, rules, sampling);
    }
    this.steps = s;
    return { tokens: seq, logprobs };
  }
}
