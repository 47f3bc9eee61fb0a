/**
 * Generation on the GPU: incremental decoding with a KV cache, a batch of
 * prompts of different lengths, temperature / top-k / top-p sampling, seeded,
 * stopping at EOS or a token limit. Nothing is read back while decoding except
 * the per-sequence done flags, every few steps, to stop early.
 *
 * Prompts of different lengths advance in lock-step: step s processes the
 * token at position s of every sequence, and the token it yields for position
 * s+1 is replaced by the prompt's own while the prompt lasts. That keeps one
 * position for the whole batch, so every kernel is the training one on B rows.
 */
import { window } from '../gpu/buffers.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { Profiler } from '../gpu/profiler.ts';
import { Recorder } from '../gpu/recorder.ts';
import { attentionDecode, decodeEmbed, kvWrite, type DecodeShape } from '../kernels/decode.ts';
import { vocabWindows } from '../kernels/encoder.ts';
import { geluForward } from '../kernels/gelu.ts';
import { layernormForward } from '../kernels/layernorm.ts';
import { gemm, matmulForward } from '../kernels/matmul.ts';
import { residualForward } from '../kernels/residual.ts';
import { sampleTokens, type SamplingSettings } from '../kernels/sampling.ts';
import { GPT } from './gpt.ts';

export interface GenerateOptions {
  maxNewTokens: number;
  /** 0 = greedy (default 1) */
  temperature?: number;
  /** 0 = off (default) */
  topK?: number;
  /** 1 = off (default) */
  topP?: number;
  seed?: number;
  eosId: number;
  /** false recomputes the whole prefix every step: the baseline the cache is measured against */
  kvCache?: boolean;
  profiler?: Profiler;
}

export interface Generation {
  /** generated tokens of each prompt, up to and including EOS */
  responses: Int32Array[];
  /** log-probability of each generated token under the sampling temperature's full distribution */
  logprobs: Float32Array[];
  /** the response ended with EOS (not the token limit) */
  finished: boolean[];
}

/** Steps recorded per submission between looks at the done flags. */
const STEPS_PER_SUBMIT = 8;

interface LayerCache {
  k: GPUBuffer;
  v: GPUBuffer;
}

export class Generator {
  readonly maxBatch: number;
  readonly maxLength: number;
  private readonly gpu: Gpu;
  private readonly buffers: Record<string, GPUBuffer>;
  private readonly caches: LayerCache[];
  private readonly doneReadback: GPUBuffer;
  private fullModel: GPT | null = null;

  constructor(
    private readonly model: GPT,
    options: { maxBatch: number; maxLength: number },
  ) {
    const { nLayer: L, nEmbd: C, nHead: NH, vocabSize: V, nPositions } = model.config;
    if (options.maxLength > nPositions) {
      throw new Error(`maxLength ${options.maxLength} exceeds the model's context of ${nPositions} positions`);
    }
    this.gpu = model.gpu;
    this.maxBatch = options.maxBatch;
    this.maxLength = options.maxLength;
    const B = options.maxBatch;
    const T = options.maxLength;
    const f = (label: string, n: number) => this.gpu.createBuffer(`generate.${label}`, n * 4);
    this.buffers = {
      seq: f('seq', B * T),
      logprobs: f('logprobs', B * T),
      done: f('done', B),
      promptLen: f('promptLen', B),
      x: f('x', B * C),
      x2: f('x2', B * C),
      ln: f('ln', B * C),
      mean: f('mean', B),
      rstd: f('rstd', B),
      qkv: f('qkv', B * 3 * C),
      atty: f('atty', B * C),
      att: f('att', B * NH * T),
      proj: f('proj', B * C),
      fch: f('fch', B * 4 * C),
      fchGelu: f('fchGelu', B * 4 * C),
      logits: f('logits', B * V),
    };
    this.caches = Array.from({ length: L }, (_, l) => ({ k: f(`k.${l}`, B * T * C), v: f(`v.${l}`, B * T * C) }));
    this.doneReadback = this.gpu.device.createBuffer({
      label: 'generate.doneReadback',
      size: Math.max(16, Math.ceil((B * 4) / 16) * 16),
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
    });
  }

  async generate(prompts: readonly ArrayLike<number>[], o: GenerateOptions): Promise<Generation> {
    const B = prompts.length;
    const T = this.maxLength;
    const V = this.model.config.vocabSize;
    if (B === 0) throw new Error('generate: no prompts');
    if (B > this.maxBatch) throw new Error(`generate: ${B} prompts, more than this generator's batch of ${this.maxBatch}`);
    if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 1) throw new Error('generate: maxNewTokens must be a positive integer');
    const lengths = prompts.map((p) => p.length);
    prompts.forEach((p, i) => {
      if (p.length === 0) throw new Error(`generate: prompt ${i} is empty`);
      if (p.length + o.maxNewTokens > T) {
        throw new Error(`generate: prompt ${i} has ${p.length} tokens; with ${o.maxNewTokens} new tokens it exceeds the length limit of ${T}`);
      }
      for (let j = 0; j < p.length; j++) {
        if (!(p[j]! >= 0 && p[j]! < V)) throw new Error(`generate: prompt ${i} holds token ${p[j]} outside the vocabulary [0, ${V})`);
      }
    });
    const sampling: SamplingSettings = { temperature: o.temperature ?? 1, topK: o.topK ?? 0, topP: o.topP ?? 1, seed: o.seed ?? 0 };
    if (sampling.temperature < 0) throw new Error('generate: temperature must be >= 0');
    if (!(sampling.topP > 0 && sampling.topP <= 1)) throw new Error('generate: topP must be in (0, 1]');

    const seq = new Int32Array(B * T);
    prompts.forEach((p, i) => seq.set(Array.from(p), i * T));
    this.gpu.write(this.buffers.seq!, seq);
    this.gpu.write(this.buffers.promptLen!, Uint32Array.from(lengths));
    this.gpu.write(this.buffers.done!, new Uint32Array(B));
    this.gpu.write(this.buffers.logprobs!, new Float32Array(B * T));

    const lastStep = Math.max(...lengths) + o.maxNewTokens - 2; // the step that yields the last token
    const kvCache = o.kvCache ?? true;
    for (let s = 0; s <= lastStep; ) {
      const end = Math.min(lastStep + 1, s + STEPS_PER_SUBMIT);
      if (kvCache) {
        const rec = new Recorder(this.gpu, o.profiler);
        for (; s < end; s++) {
          this.recordDecodeStep(rec, B, s);
          sampleTokens(rec, this.samplingState(), this.buffers.logits!, B, V, T, s, o.eosId, o.maxNewTokens, sampling);
        }
        rec.copy(this.buffers.done!, 0, this.doneReadback, 0, B * 4);
        rec.submit();
      } else {
        for (; s < end; s++) await this.fullForwardStep(B, s, o.eosId, o.maxNewTokens, sampling);
        const rec = new Recorder(this.gpu);
        rec.copy(this.buffers.done!, 0, this.doneReadback, 0, B * 4);
        rec.submit();
      }
      await this.doneReadback.mapAsync(GPUMapMode.READ);
      const done = new Uint32Array(this.doneReadback.getMappedRange().slice(0, B * 4));
      this.doneReadback.unmap();
      if (done.every((d) => d === 1)) break;
    }

    const tokens = await this.gpu.readI32(this.buffers.seq!, 0, B * T);
    const logprobs = await this.gpu.readF32(this.buffers.logprobs!, 0, B * T);
    const result: Generation = { responses: [], logprobs: [], finished: [] };
    for (let b = 0; b < B; b++) {
      const row = tokens.subarray(b * T + lengths[b]!, b * T + lengths[b]! + o.maxNewTokens);
      const eosAt = row.indexOf(o.eosId);
      const n = eosAt >= 0 ? eosAt + 1 : row.length;
      result.responses.push(row.slice(0, n));
      result.logprobs.push(logprobs.slice(b * T + lengths[b]!, b * T + lengths[b]! + n));
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
  }

  private samplingState() {
    const b = this.buffers;
    return { seq: b.seq!, logprobs: b.logprobs!, done: b.done!, promptLen: b.promptLen! };
  }

  /** One token per sequence through the model at position s, into logits (B,V). */
  private recordDecodeStep(rec: Recorder, B: number, s: number): void {
    const { nLayer: L, nEmbd: C, nHead: NH, vocabSize: V } = this.model.config;
    const shape: DecodeShape = { B, C, NH, maxT: this.maxLength, pos: s };
    const w = (name: string) => this.model.param(name).value;
    const a = this.buffers as Record<string, GPUBuffer>;
    decodeEmbed(rec, a.x!, a.seq!, w('wte.weight'), w('wpe.weight'), V, shape);
    for (let l = 0; l < L; l++) {
      const h = `h.${l}.`;
      const cache = this.caches[l]!;
      layernormForward(rec, a.ln!, a.mean!, a.rstd!, a.x!, w(`${h}ln_1.weight`), w(`${h}ln_1.bias`), B, C);
      matmulForward(rec, a.qkv!, a.ln!, w(`${h}attn.c_attn.weight`), w(`${h}attn.c_attn.bias`), B, C, 3 * C);
      kvWrite(rec, cache.k, cache.v, a.qkv!, shape);
      attentionDecode(rec, a.atty!, a.att!, a.qkv!, cache.k, cache.v, shape);
      matmulForward(rec, a.proj!, a.atty!, w(`${h}attn.c_proj.weight`), w(`${h}attn.c_proj.bias`), B, C, C);
      residualForward(rec, a.x2!, a.x!, a.proj!, B * C);
      layernormForward(rec, a.ln!, a.mean!, a.rstd!, a.x2!, w(`${h}ln_2.weight`), w(`${h}ln_2.bias`), B, C);
      matmulForward(rec, a.fch!, a.ln!, w(`${h}mlp.c_fc.weight`), w(`${h}mlp.c_fc.bias`), B, C, 4 * C);
      geluForward(rec, a.fchGelu!, a.fch!, B * 4 * C);
      matmulForward(rec, a.proj!, a.fchGelu!, w(`${h}mlp.c_proj.weight`), w(`${h}mlp.c_proj.bias`), B, 4 * C, C);
      residualForward(rec, a.x!, a.x2!, a.proj!, B * C);
    }
    layernormForward(rec, a.ln!, a.mean!, a.rstd!, a.x!, w('ln_f.weight'), w('ln_f.bias'), B, C);
    const wte = w('wte.weight');
    for (const { first, count } of vocabWindows(this.gpu, V, C)) {
      gemm(
        rec,
        { binding: a.logits!, ld: V, offset: first },
        { binding: a.ln!, ld: C },
        { binding: window(wte, first * C, count * C), ld: C, transposed: true },
        B,
        count,
        C,
        { name: 'matmul_lm_head' },
      );
    }
  }

  /** The no-cache baseline: the whole prefix through the full model, then the same sampler. */
  private async fullForwardStep(B: number, s: number, eos: number, maxNew: number, sampling: SamplingSettings): Promise<void> {
    const T = this.maxLength;
    const V = this.model.config.vocabSize;
    if (this.fullModel?.batchSize !== B) {
      this.fullModel?.destroy();
      this.fullModel = new GPT(this.gpu, this.model.config, B, T, { shareParametersWith: this.model });
    }
    const tokens = await this.gpu.readI32(this.buffers.seq!, 0, B * T);
    const logits = await this.fullModel.logits({ tokens, targets: tokens });
    const rows = new Float32Array(B * V);
    for (let b = 0; b < B; b++) rows.set(logits.subarray((b * T + s) * V, (b * T + s + 1) * V), b * V);
    this.gpu.write(this.buffers.logits!, rows);
    const rec = new Recorder(this.gpu);
    sampleTokens(rec, this.samplingState(), this.buffers.logits!, B, V, T, s, eos, maxNew, sampling);
    rec.submit();
  }
}
