/**
 * A reward model: the GPT-2 trunk and a scalar head (1,C), as Hugging Face's
 * GPT2ForSequenceClassification, read at each sequence's last real token.
 * Trained on comparisons with the Bradley–Terry loss; the whole step
 * (forward, loss, backward, AdamW) is one submission.
 */
import type { RewardBatch } from '../data/preferences.ts';
import { pairSlots } from '../data/preferences.ts';
import { Rng } from '../data/random.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { Profiler } from '../gpu/profiler.ts';
import { Recorder } from '../gpu/recorder.ts';
import { preferenceLoss, rewardBackward, rewardForward, type RewardShape } from '../kernels/reward.ts';
import type { GPTConfig } from './config.ts';
import { GPT, type GPTOptions, type ParamTensor, type StepOptimizer } from './gpt.ts';
import { ParamArena } from './param-arena.ts';
import { checkHead } from './weights.ts';

export interface PreferenceMetrics {
  loss: number;
  accuracy: number;
  margin: number;
  reward_chosen: number;
  reward_rejected: number;
}

export class RewardModel {
  readonly gpt: GPT;
  readonly score: ParamTensor;
  private readonly scoreArena: ParamArena;
  /** trunk and head, for the optimizer */
  readonly params: ParamTensor[];
  /** coefficient of the reward-centering term (mean squared reward); 0 = off */
  center = 0;
  private readonly b: Record<'last' | 'pairs' | 'margins' | 'pairWeights' | 'rowWeights' | 'rewards' | 'dr' | 'stats', GPUBuffer>;
  private readonly readback: GPUBuffer;

  constructor(
    readonly gpu: Gpu,
    config: GPTConfig,
    batchSize: number,
    seqLen: number,
    options: GPTOptions = {},
  ) {
    this.gpt = new GPT(gpu, config, batchSize, seqLen, options);
    const C = config.nEmbd;
    this.scoreArena = new ParamArena(gpu, [{ name: 'score', shape: [1, C], size: C, init: 'normal', decay: true, conv1d: false }], 'score');
    this.score = this.scoreArena.tensors[0]!;
    this.params = [...this.gpt.params, this.score];
    const B = batchSize;
    const P = pairSlots(B);
    const f = (label: string, n: number) => gpu.createBuffer(`reward.${label}`, n * 4);
    this.b = {
      last: f('last', B),
      pairs: f('pairs', 2 * P),
      margins: f('margins', P),
      pairWeights: f('pairWeights', P),
      rowWeights: f('rowWeights', B),
      rewards: f('rewards', B),
      dr: f('dr', B),
      stats: f('stats', 5),
    };
    this.readback = gpu.device.createBuffer({ label: 'reward.readback', size: 32, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  }

  /** A fresh head, N(0, 0.02) as GPT2ForSequenceClassification initialises it. */
  static initScore(config: GPTConfig, seed: number): Float32Array {
    return new Rng(seed ^ 0x2545f491).fillRandn(new Float32Array(config.nEmbd), 0.02);
  }

  setParameters(trunk: ReadonlyMap<string, Float32Array>, score: Float32Array): void {
    checkHead(score, this.gpt.config, 'the reward model');
    this.gpt.setParameters(trunk);
    this.gpu.write(this.score.value, score);
  }

  async getScore(): Promise<Float32Array> {
    return this.gpu.readF32(this.score.value, 0, this.score.spec.size);
  }

  /** Forward, loss, backward and the optimizer's update; returns the batch's metrics. */
  async trainStep(batch: RewardBatch, optimizer: StepOptimizer, profiler?: Profiler): Promise<PreferenceMetrics & { gradNorm: number }> {
    this.upload(batch);
    optimizer.prepare();
    const rec = new Recorder(this.gpu, profiler);
    this.gpt.recordZeroGradients(rec);
    this.scoreArena.recordZeroGradients(rec);
    const micro = this.gpt.plan.microBatches;
    for (let k = 0; k < micro; k++) {
      this.gpt.recordTrunkForward(rec, k);
      rewardForward(rec, this.b.rewards, this.gpt.finalHidden, this.b.last, this.score.value, this.shape(k));
    }
    this.recordLoss(rec);
    for (let k = 0; k < micro; k++) {
      // With several micro-batches the activations were overwritten: run each forward again.
      if (micro > 1) this.gpt.recordTrunkForward(rec, k);
      rewardBackward(rec, this.gpt.finalHiddenGrad, this.score.grad, this.b.dr, this.gpt.finalHidden, this.b.last, this.score.value, this.shape(k));
      this.gpt.recordTrunkBackward(rec, k);
    }
    optimizer.record(rec);
    rec.copy(this.b.stats, 0, this.readback, 0, 20);
    rec.copy(optimizer.norm, 0, this.readback, 20, 4);
    rec.submit();
    const v = await this.read();
    return { ...this.metrics(v, batch), gradNorm: v[5]! };
  }

  /** The batch's loss and accuracy, forward only. */
  async evaluate(batch: RewardBatch): Promise<PreferenceMetrics> {
    this.upload(batch);
    const rec = new Recorder(this.gpu);
    for (let k = 0; k < this.gpt.plan.microBatches; k++) {
      this.gpt.recordTrunkForward(rec, k);
      rewardForward(rec, this.b.rewards, this.gpt.finalHidden, this.b.last, this.score.value, this.shape(k));
    }
    this.recordLoss(rec);
    rec.copy(this.b.stats, 0, this.readback, 0, 20);
    rec.submit();
    return this.metrics(await this.read(), batch);
  }

  /** Rewards of B sequences whose last real tokens are at `last`. */
  async rewards(tokens: Int32Array, last: Int32Array): Promise<Float32Array> {
    this.gpt.uploadTokens(tokens);
    this.gpu.write(this.b.last, last);
    const rec = new Recorder(this.gpu);
    for (let k = 0; k < this.gpt.plan.microBatches; k++) {
      this.gpt.recordTrunkForward(rec, k);
      rewardForward(rec, this.b.rewards, this.gpt.finalHidden, this.b.last, this.score.value, this.shape(k));
    }
    rec.submit();
    return this.gpu.readF32(this.b.rewards, 0, this.gpt.batchSize);
  }

  destroy(): void {
    for (const buf of [...Object.values(this.b), this.readback]) buf.destroy();
    this.scoreArena.destroy();
    this.gpt.destroy();
  }

  private upload(batch: RewardBatch): void {
    const T = this.gpt.seqLen;
    for (let b = 0; b < batch.last.length; b++) {
      if (!(batch.last[b]! >= 0 && batch.last[b]! < T)) throw new Error(`sequence ${b}: last token index ${batch.last[b]} is outside [0, ${T})`);
    }
    this.gpt.uploadTokens(batch.tokens);
    this.gpu.write(this.b.last, batch.last);
    this.gpu.write(this.b.pairs, batch.pairs);
    this.gpu.write(this.b.margins, batch.margins);
    this.gpu.write(this.b.pairWeights, batch.pairWeights);
    this.gpu.write(this.b.rowWeights, batch.rowWeights);
  }

  private shape(k: number): RewardShape {
    const { micro } = this.gpt.plan;
    return {
      B: this.gpt.sequences(k),
      first: k * micro,
      T: this.gpt.seqLen,
      C: this.gpt.config.nEmbd,
      total: this.gpt.batchSize,
      P: pairSlots(this.gpt.batchSize),
      center: this.center,
    };
  }

  private recordLoss(rec: Recorder): void {
    const b = this.b;
    preferenceLoss(rec, b.dr, b.stats, b.rewards, b.pairs, b.margins, b.pairWeights, b.rowWeights, { ...this.shape(0), B: this.gpt.batchSize, first: 0 });
  }

  private read(): Promise<Float32Array> {
    return this.gpu.readMapped(this.readback);
  }

  private metrics(v: Float32Array, batch: RewardBatch): PreferenceMetrics {
    if (batch.comparisons === 0) throw new Error('a reward batch with no comparisons');
    return { loss: v[0]!, accuracy: v[1]!, margin: v[2]!, reward_chosen: v[3]!, reward_rejected: v[4]! };
  }
}
