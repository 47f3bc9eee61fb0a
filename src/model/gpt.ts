/**
 * GPT-2 on the GPU: parameters, gradients and activations as named buffers,
 * and the forward and backward passes recorded from the kernels. A training
 * step (forward, backward, AdamW) is one command encoder, submitted once, and
 * reads back only the loss and the gradient norm.
 */
import type { Batch } from '../data/batch.ts';
import { window, type BufferWindow } from '../gpu/buffers.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { Profiler } from '../gpu/profiler.ts';
import { Recorder } from '../gpu/recorder.ts';
import { attentionBackward, attentionForward } from '../kernels/attention.ts';
import { crossentropyBackward, crossentropyForward, lossSum } from '../kernels/crossentropy.ts';
import { encoderBackward, encoderForward, vocabWindows } from '../kernels/encoder.ts';
import { geluBackward } from '../kernels/gelu.ts';
import { layernormBackward, layernormForward } from '../kernels/layernorm.ts';
import { gemm, matmulBackward, matmulForward, matmulForwardGelu } from '../kernels/matmul.ts';
import { shapeTuningStore, tuneBlockedStep, type ShapeTuning, type ShapeTuningOptions } from '../kernels/matmul-tune.ts';
import { residualForward } from '../kernels/residual.ts';
import { allocateActivations, planBatch, type Activations, type BatchPlan } from './activations.ts';
import { validateConfig, type GPTConfig } from './config.ts';
import { ParamArena, type ParamTensor } from './param-arena.ts';
import { parameterTable } from './params.ts';

export type { ParamTensor } from './param-arena.ts';
export type { Batch } from '../data/batch.ts';

interface MicroInputs {
  tokens: GPUBuffer; // (b,T) i32
  targets: GPUBuffer; // (b,T) i32
  weights: GPUBuffer; // (b,T) f32
}

export interface StepResult {
  loss: number;
  /** global gradient L2 norm before clipping (NaN when not computed) */
  gradNorm: number;
}

/** Records the optimizer's update into a step's encoder (see train/adamw.ts). */
export interface StepOptimizer {
  /** called before recording: upload this step's scalars */
  prepare(): void;
  record(rec: Recorder): void;
  /** [global norm, clip scale] on the GPU */
  readonly norm: GPUBuffer;
}

/**
 * A loss over one chunk of logits rows (rows firstRow.. of the batch, (rows,V)
 * in `logits`); when training it must leave the loss's gradient over the
 * logits in place. The default head is cross-entropy; PPO brings its own.
 */
export type LogitsHead = (rec: Recorder, logits: BufferWindow, firstRow: number, rows: number, train: boolean) => void;

export interface GPTOptions {
  /**
   * Use another model's parameter and gradient buffers instead of allocating
   * new ones: the same weights at another batch shape (evaluation, generation).
   */
  shareParametersWith?: GPT;
  /**
   * At most this many sequences per micro-batch (gradient accumulation: a
   * batch of B·G sequences in micro-batches of B). Default: as many as fit.
   */
  microBatchSize?: number;
}

export class GPT {
  readonly config: GPTConfig;
  readonly plan: BatchPlan;
  readonly params: ParamTensor[];
  /** the parameters' and gradients' buffers (the owner's, where shared) */
  readonly arena: ParamArena;
  private readonly byName: Map<string, ParamTensor>;
  private readonly ownsParameters: boolean;
  private readonly acts: Activations;
  private readonly inputs: MicroInputs[];
  /** [0] = loss of the last forward pass */
  private readonly stats: GPUBuffer;
  /** loss sum of each micro-batch, added into stats[0] */
  private readonly microLosses: GPUBuffer;
  /** mappable copy of [loss, norm, scale] */
  private readonly readback: GPUBuffer;
  /** tuneMatmuls ran (or was not wanted) for this model's shapes */
  private matmulsTuned = false;

  /** A model for batches of exactly `batchSize` sequences of `seqLen` tokens. */
  constructor(
    readonly gpu: Gpu,
    config: GPTConfig,
    batchSize: number,
    seqLen: number,
    options: GPTOptions = {},
  ) {
    this.config = validateConfig({ ...config });
    this.plan = planBatch(gpu, this.config, batchSize, seqLen, options.microBatchSize);
    const owner = options.shareParametersWith;
    if (owner) {
      if (JSON.stringify(owner.config) !== JSON.stringify(this.config)) {
        throw new Error('shareParametersWith needs a model of the same config');
      }
      this.arena = owner.arena;
      this.ownsParameters = false;
    } else {
      this.arena = new ParamArena(gpu, parameterTable(this.config));
      this.ownsParameters = true;
    }
    this.params = this.arena.tensors;
    this.byName = new Map(this.params.map((p) => [p.spec.name, p]));
    this.acts = allocateActivations(gpu, this.config, this.plan);
    const rows = this.plan.micro * seqLen;
    this.inputs = Array.from({ length: this.plan.microBatches }, (_, k) => ({
      tokens: gpu.createBuffer(`input.${k}.tokens`, rows * 4),
      targets: gpu.createBuffer(`input.${k}.targets`, rows * 4),
      weights: gpu.createBuffer(`input.${k}.weights`, rows * 4),
    }));
    this.stats = gpu.createBuffer('stats', 4);
    this.microLosses = gpu.createBuffer('microLosses', this.plan.microBatches * 4);
    this.readback = gpu.device.createBuffer({
      label: 'stats.readback',
      size: 16,
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
    });
  }

  get batchSize(): number {
    return this.plan.B;
  }

  get seqLen(): number {
    return this.plan.T;
  }

  param(name: string): ParamTensor {
    const p = this.byName.get(name);
    if (!p) throw new Error(`no parameter named "${name}"`);
    return p;
  }

  /** Upload parameters (internal layout, see params.ts); every tensor must be given. */
  setParameters(values: ReadonlyMap<string, Float32Array>): void {
    for (const p of this.params) {
      const data = values.get(p.spec.name);
      if (!data) throw new Error(`missing parameter ${p.spec.name}`);
      if (data.length !== p.spec.size) {
        throw new Error(`parameter ${p.spec.name} has ${data.length} values, expected ${p.spec.size} (shape [${p.spec.shape}])`);
      }
      this.gpu.write(p.value, data);
    }
  }

  async getParameters(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const p of this.params) out.set(p.spec.name, await this.gpu.readF32(p.value, 0, p.spec.size));
    return out;
  }

  async getGradients(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const p of this.params) out.set(p.spec.name, await this.gpu.readF32(p.grad, 0, p.spec.size));
    return out;
  }

  /**
   * Validate a batch and queue its upload. `lossScale` multiplies the loss
   * (and so its gradient): PPO-ptx adds a scaled pretraining loss this way.
   */
  upload(batch: Batch, lossScale = 1): void {
    const { B, T, micro } = this.plan;
    const V = this.config.vocabSize;
    const n = B * T;
    if (batch.tokens.length !== n || batch.targets.length !== n) {
      throw new Error(`batch must hold ${B}x${T} tokens and targets, got ${batch.tokens.length} and ${batch.targets.length}`);
    }
    const weights = batch.weights ?? new Float32Array(n).fill(1);
    if (weights.length !== n) throw new Error(`batch weights must hold ${n} values, got ${weights.length}`);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const tok = batch.tokens[i]!;
      if (!(tok >= 0 && tok < V)) throw new Error(`token id ${tok} at position ${i} is outside the vocabulary [0, ${V})`);
      const w = weights[i]!;
      if (!(w >= 0) || !Number.isFinite(w)) throw new Error(`loss weight ${w} at position ${i} must be finite and >= 0`);
      if (w > 0) {
        const tgt = batch.targets[i]!;
        if (!(tgt >= 0 && tgt < V)) throw new Error(`target id ${tgt} at position ${i} is outside the vocabulary [0, ${V})`);
      }
      total += w;
    }
    if (total === 0) throw new Error('batch has no position that counts toward the loss (all weights are 0)');
    const normalized = new Float32Array(n);
    for (let i = 0; i < n; i++) normalized[i] = (lossScale * weights[i]!) / total;
    for (let k = 0; k < this.plan.microBatches; k++) {
      const first = k * micro * T;
      const end = Math.min(n, first + micro * T);
      const input = this.inputs[k]!;
      this.gpu.write(input.tokens, batch.tokens.subarray(first, end));
      this.gpu.write(input.targets, batch.targets.subarray(first, end));
      this.gpu.write(input.weights, normalized.subarray(first, end));
    }
  }

  /** The batch's mean loss, forward only. */
  async loss(batch: Batch, profiler?: Profiler): Promise<number> {
    this.upload(batch);
    const rec = new Recorder(this.gpu, profiler);
    for (let k = 0; k < this.plan.microBatches; k++) this.recordMicroBatch(rec, k, false);
    lossSum(rec, this.stats, 0, this.microLosses, this.plan.microBatches);
    rec.copy(this.stats, 0, this.readback, 0, 4);
    rec.submit();
    return (await this.readStats())[0]!;
  }

  /**
   * The logits (B,T,V) of a forward pass. For tests and small batches: the
   * batch must fit in one micro-batch and one classifier chunk.
   */
  async logits(batch: Batch): Promise<Float32Array> {
    const { B, T, microBatches, classifierRows } = this.plan;
    if (microBatches !== 1 || classifierRows !== B * T) {
      throw new Error('logits() needs the whole batch in one micro-batch and one classifier chunk');
    }
    this.upload(batch);
    const rec = new Recorder(this.gpu);
    this.recordMicroBatch(rec, 0, false);
    rec.submit();
    return this.gpu.readF32(this.acts.logits, 0, B * T * this.config.vocabSize);
  }

  /** Gradients of the batch's mean loss into the grad buffers (zeroed first); returns the loss. */
  async backward(batch: Batch, profiler?: Profiler): Promise<number> {
    this.upload(batch);
    const rec = new Recorder(this.gpu, profiler);
    this.recordGradients(rec);
    rec.copy(this.stats, 0, this.readback, 0, 4);
    rec.submit();
    return (await this.readStats())[0]!;
  }

  /**
   * Times the blocked matmul's plans at the shapes of this model's forward
   * and backward pass and keeps the fastest (kernels/matmul-tune.ts); on
   * devices that do not run the blocked variant there is nothing to tune.
   */
  async tuneMatmuls(options: ShapeTuningOptions = {}): Promise<ShapeTuning[]> {
    this.matmulsTuned = true;
    return tuneBlockedStep(this.gpu, (rec) => this.recordGradients(rec), options);
  }

  /** Forward, backward and the optimizer's update, in one submission. */
  async trainStep(batch: Batch, optimizer: StepOptimizer, profiler?: Profiler): Promise<StepResult> {
    const store = shapeTuningStore(this.gpu);
    if (store && !this.matmulsTuned) await this.tuneMatmuls({ store });
    this.upload(batch);
    optimizer.prepare();
    const rec = new Recorder(this.gpu, profiler);
    this.recordGradients(rec);
    optimizer.record(rec);
    rec.copy(this.stats, 0, this.readback, 0, 4);
    rec.copy(optimizer.norm, 0, this.readback, 4, 8);
    rec.submit();
    const [loss, gradNorm] = await this.readStats();
    return { loss: loss!, gradNorm: gradNorm! };
  }

  destroy(): void {
    const { layers, ...shared } = this.acts;
    if (this.ownsParameters) this.arena.destroy();
    const all = [
      ...Object.values(shared),
      ...layers.flatMap((l) => Object.values(l)),
      ...this.inputs.flatMap((i) => [i.tokens, i.targets, i.weights]),
      this.stats,
      this.microLosses,
      this.readback,
    ];
    for (const b of all) b.destroy();
    this.gpu.clearBindGroups();
  }

  private readStats(): Promise<Float32Array> {
    return this.gpu.readMapped(this.readback);
  }

  private recordGradients(rec: Recorder): void {
    this.recordZeroGradients(rec);
    this.recordAccumulatedGradients(rec);
  }

  /**
   * The uploaded batch's loss gradients added to the parameter gradients (not
   * zeroed first), and its loss into `lossBuffer`: for a second loss on the
   * same parameters, such as PPO-ptx's pretraining term.
   */
  recordAccumulatedGradients(rec: Recorder): void {
    for (let k = 0; k < this.plan.microBatches; k++) {
      this.recordMicroBatch(rec, k, true);
      this.recordTrunkBackward(rec, k);
    }
    lossSum(rec, this.stats, 0, this.microLosses, this.plan.microBatches);
  }

  /** (1) the loss of the last recorded pass, scaled as uploaded */
  get lossBuffer(): GPUBuffer {
    return this.stats;
  }

  /** Sequences in micro-batch k. */
  sequences(k: number): number {
    const { B, micro } = this.plan;
    return Math.min(micro, B - k * micro);
  }

  /**
   * Forward pass of micro-batch k through the loss. With `train`, the
   * classifier also leaves dlnf, the loss gradient at the final LayerNorm's output.
   */
  private recordMicroBatch(rec: Recorder, k: number, train: boolean): void {
    this.recordTrunkForward(rec, k);
    const N = this.sequences(k) * this.plan.T;
    this.recordClassifier(rec, k, N, train);
    lossSum(rec, this.microLosses, k, this.acts.losses, N);
  }

  /**
   * Forward pass of micro-batch k through the tied LM head into `head`
   * (PPO's per-token losses); with `train`, the head's logits gradient is
   * carried back to finalHiddenGrad and the wte gradient, ready for
   * recordTrunkBackward.
   */
  recordWithLogitsHead(rec: Recorder, k: number, train: boolean, head: LogitsHead): void {
    this.recordTrunkForward(rec, k);
    this.recordClassifier(rec, k, this.sequences(k) * this.plan.T, train, head);
  }

  /**
   * The transformer of micro-batch k, from tokens to the final LayerNorm's
   * output (`finalHidden`). Heads other than the LM head (a reward or value
   * head) build on this and on recordTrunkBackward.
   */
  recordTrunkForward(rec: Recorder, k: number): void {
    const { nLayer: L, nEmbd: C, nHead: NH, vocabSize: V } = this.config;
    const T = this.plan.T;
    const b = this.sequences(k);
    const N = b * T;
    const a = this.acts;
    const input = this.inputs[k]!;
    const w = (name: string) => this.param(name).value;

    encoderForward(rec, a.encoded, input.tokens, w('wte.weight'), w('wpe.weight'), b, T, C, V);
    for (let l = 0; l < L; l++) {
      const h = `h.${l}.`;
      const act = a.layers[l]!;
      const resIn = l === 0 ? a.encoded : a.layers[l - 1]!.res3;
      layernormForward(rec, act.ln1, act.ln1Mean, act.ln1Rstd, resIn, w(`${h}ln_1.weight`), w(`${h}ln_1.bias`), N, C);
      matmulForward(rec, act.qkv, act.ln1, w(`${h}attn.c_attn.weight`), w(`${h}attn.c_attn.bias`), N, C, 3 * C);
      attentionForward(rec, act.atty, act.att, act.qkv, b, T, C, NH);
      matmulForward(rec, a.proj, act.atty, w(`${h}attn.c_proj.weight`), w(`${h}attn.c_proj.bias`), N, C, C);
      residualForward(rec, act.res2, resIn, a.proj, N * C);
      layernormForward(rec, act.ln2, act.ln2Mean, act.ln2Rstd, act.res2, w(`${h}ln_2.weight`), w(`${h}ln_2.bias`), N, C);
      matmulForwardGelu(rec, act.fch, act.fchGelu, act.ln2, w(`${h}mlp.c_fc.weight`), w(`${h}mlp.c_fc.bias`), N, C, 4 * C);
      matmulForward(rec, a.proj, act.fchGelu, w(`${h}mlp.c_proj.weight`), w(`${h}mlp.c_proj.bias`), N, 4 * C, C);
      residualForward(rec, act.res3, act.res2, a.proj, N * C);
    }
    const last = a.layers[L - 1]!.res3;
    layernormForward(rec, a.lnf, a.lnfMean, a.lnfRstd, last, w('ln_f.weight'), w('ln_f.bias'), N, C);
  }

  /** (b,T,C) output of the final LayerNorm for the micro-batch last run forward. */
  get finalHidden(): GPUBuffer {
    return this.acts.lnf;
  }

  /** (b,T,C) where a head puts its loss gradient at finalHidden before recordTrunkBackward. */
  get finalHiddenGrad(): GPUBuffer {
    return this.acts.dlnf;
  }

  /** Zero every parameter gradient (they accumulate). */
  recordZeroGradients(rec: Recorder): void {
    this.arena.recordZeroGradients(rec);
  }

  /** Validate and queue token ids alone, for heads that need no targets. */
  uploadTokens(tokens: Int32Array): void {
    const { B, T, micro } = this.plan;
    const V = this.config.vocabSize;
    if (tokens.length !== B * T) throw new Error(`batch must hold ${B}x${T} tokens, got ${tokens.length}`);
    for (let i = 0; i < tokens.length; i++) {
      if (!(tokens[i]! >= 0 && tokens[i]! < V)) throw new Error(`token id ${tokens[i]} at position ${i} is outside the vocabulary [0, ${V})`);
    }
    for (let k = 0; k < this.plan.microBatches; k++) {
      this.gpu.write(this.inputs[k]!.tokens, tokens.subarray(k * micro * T, Math.min(B * T, (k + 1) * micro * T)));
    }
  }

  /**
   * The tied LM head and the loss, in chunks of rows (so the logits fit one
   * binding) and windows of the vocabulary (so wte does).
   */
  private recordClassifier(rec: Recorder, k: number, N: number, train: boolean, head?: LogitsHead): void {
    const { nEmbd: C, vocabSize: V } = this.config;
    const a = this.acts;
    const input = this.inputs[k]!;
    const wte = this.param('wte.weight');
    const vocab = vocabWindows(this.gpu, V, C);
    for (let r0 = 0; r0 < N; r0 += this.plan.classifierRows) {
      const R = Math.min(this.plan.classifierRows, N - r0);
      const lnf = window(a.lnf, r0 * C, R * C);
      const logits = window(a.logits, 0, R * V);
      for (const { first, count } of vocab) {
        gemm(
          rec,
          { binding: logits, ld: V, offset: first },
          { binding: lnf, ld: C },
          { binding: window(wte.value, first * C, count * C), ld: C, transposed: true },
          R,
          count,
          C,
          { name: 'matmul_lm_head' },
        );
      }
      const rows = (buf: GPUBuffer) => window(buf, r0, R);
      if (head) head(rec, logits, k * this.plan.micro * this.plan.T + r0, R, train);
      else if (train) crossentropyBackward(rec, logits, rows(a.losses), rows(input.targets), rows(input.weights), R, V);
      else crossentropyForward(rec, rows(a.losses), logits, rows(input.targets), rows(input.weights), R, V);
      if (!train) continue;
      const dlnf = window(a.dlnf, r0 * C, R * C);
      vocab.forEach(({ first, count }, i) => {
        // dlnf(R,C) = dlogits(R,V) wte(V,C), summed over vocabulary windows
        gemm(
          rec,
          { binding: dlnf, ld: C },
          { binding: logits, ld: V, offset: first },
          { binding: window(wte.value, first * C, count * C), ld: C },
          R,
          C,
          count,
          { accumulate: i > 0, name: 'matmul_lm_head_dinp' },
        );
        // dwte(window) += dlogits(R, window)^T lnf(R,C)
        gemm(
          rec,
          { binding: window(wte.grad, first * C, count * C), ld: C },
          { binding: logits, ld: V, offset: first, transposed: true },
          { binding: lnf, ld: C },
          count,
          C,
          R,
          { accumulate: true, name: 'matmul_lm_head_dweight' },
        );
      });
    }
  }

  /** Backward pass of micro-batch k from finalHiddenGrad; parameter gradients accumulate. */
  recordTrunkBackward(rec: Recorder, k: number): void {
    const { nLayer: L, nEmbd: C, nHead: NH, vocabSize: V } = this.config;
    const T = this.plan.T;
    const b = this.sequences(k);
    const N = b * T;
    const a = this.acts;
    const p = (name: string) => this.param(name);

    const lnf = p('ln_f.weight');
    layernormBackward(rec, a.dresA, lnf.grad, p('ln_f.bias').grad, a.dlnf, null, a.layers[L - 1]!.res3, lnf.value, a.lnfMean, a.lnfRstd, N, C);
    // The residual stream's gradient is in dresA at the top of every layer.
    for (let l = L - 1; l >= 0; l--) {
      const h = `h.${l}.`;
      const act = a.layers[l]!;
      const resIn = l === 0 ? a.encoded : a.layers[l - 1]!.res3;
      const fcProj = p(`${h}mlp.c_proj.weight`);
      matmulBackward(rec, a.d4C, fcProj.grad, p(`${h}mlp.c_proj.bias`).grad, a.dresA, act.fchGelu, fcProj.value, N, 4 * C, C);
      geluBackward(rec, a.d4C2, a.d4C, act.fch, N * 4 * C);
      const fc = p(`${h}mlp.c_fc.weight`);
      matmulBackward(rec, a.dC, fc.grad, p(`${h}mlp.c_fc.bias`).grad, a.d4C2, act.ln2, fc.value, N, C, 4 * C);
      const ln2 = p(`${h}ln_2.weight`);
      layernormBackward(rec, a.dresB, ln2.grad, p(`${h}ln_2.bias`).grad, a.dC, a.dresA, act.res2, ln2.value, act.ln2Mean, act.ln2Rstd, N, C);
      const proj = p(`${h}attn.c_proj.weight`);
      matmulBackward(rec, a.dC, proj.grad, p(`${h}attn.c_proj.bias`).grad, a.dresB, act.atty, proj.value, N, C, C);
      attentionBackward(rec, a.d3C, a.dpreatt, a.dC, act.qkv, act.att, b, T, C, NH);
      const qkv = p(`${h}attn.c_attn.weight`);
      matmulBackward(rec, a.dC, qkv.grad, p(`${h}attn.c_attn.bias`).grad, a.d3C, act.ln1, qkv.value, N, C, 3 * C);
      const ln1 = p(`${h}ln_1.weight`);
      layernormBackward(rec, a.dresA, ln1.grad, p(`${h}ln_1.bias`).grad, a.dC, a.dresB, resIn, ln1.value, act.ln1Mean, act.ln1Rstd, N, C);
    }
    const tokens = this.inputs[k]!.tokens;
    encoderBackward(rec, p('wte.weight').grad, p('wpe.weight').grad, a.links, a.dresA, tokens, b, T, C, V);
  }
}
