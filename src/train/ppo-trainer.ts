/**
 * PPO against a reward model, all per-token work on the GPU (InstructGPT,
 * TRL's PPOTrainer): the policy samples responses with the KV cache; the
 * frozen reward model scores them; the policy's and the frozen reference's
 * log-probabilities give a per-token KL penalty; the value model (initialised
 * from the reward model) gives GAE advantages, whitened; then several PPO
 * epochs, each over minibatches of the rollouts in a seeded order, update the policy (clipped surrogate) and the value model (clipped
 * value loss, weighted by vfCoef) with one AdamW and one gradient clip, as
 * TRL's wrapped policy-and-value model does; optionally with InstructGPT's
 * PPO-ptx pretraining term on the policy. Only scalars come back, plus the
 * sampled token ids (inputs of the next passes) and one score per sequence.
 */
import { epochPermutation } from '../data/permutation.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { Recorder } from '../gpu/recorder.ts';
import { dotSum, ppoGae, ppoPolicyLoss, ppoRewards, tokenLogprobs, valueBackward, valueForward, valueLoss, whiten } from '../kernels/ppo.ts';
import { SCORE_NAME } from '../io/hf-gpt2.ts';
import { Generator } from '../model/generate.ts';
import { GPT, type Batch, type ParamTensor } from '../model/gpt.ts';
import { ParamArena } from '../model/param-arena.ts';
import { RewardModel } from '../model/reward-model.ts';
import { headOf, type Weights } from '../model/weights.ts';
import { AdamW, type AdamWConfig } from './adamw.ts';
import type { PpoSettings } from './ppo-settings.ts';

/** One PPO step's metrics, with TRL's names. */
export type PpoMetrics = Record<
  | 'objective/kl'
  | 'objective/entropy'
  | 'objective/scores'
  | 'objective/rlhf_reward'
  | 'objective/non_score_reward'
  | 'policy/approxkl_avg'
  | 'policy/clipfrac_avg'
  | 'loss/policy_avg'
  | 'loss/value_avg'
  | 'val/clipfrac_avg'
  | 'val/ratio'
  | 'val/num_eos_tokens'
  | 'loss/ptx'
  | 'objective/kl_coef'
  | 'grad_norm',
  number
>;

export interface PpoModels {
  /** the SFT model: the policy starts from it and the frozen reference is a copy */
  policy: Weights;
  /** the reward model (frozen; its head is required), and the value model's starting point */
  reward: Weights;
  /** a resumed run: the frozen KL reference, of the policy's shape (default: `policy`, the SFT model) */
  reference?: Weights;
  /** a resumed run: the value model and its head, of the reward model's shape (default: the reward model) */
  value?: Weights;
  /** PPO-ptx: the pretraining batch (ptxBatchSize sequences of the rollout length) of PPO step k */
  ptxBatch?: (step: number) => Batch;
  ptxBatchSize?: number;
}

/**
 * What a PPO run carries from step to step besides the weights: the AdamW
 * moments of policy, value model and value head (keyed policy.*, value.*),
 * and the adaptive KL coefficient. Rollouts, minibatch orders and PPO-ptx
 * batches are seeded by the step index, so these and the weights are all a
 * resumed run needs to continue bit for bit.
 */
export interface PpoTrainerState {
  optimizer: { m: Map<string, Float32Array>; v: Map<string, Float32Array>; step: number };
  beta: number;
}

interface Rollout {
  tokens: Int32Array;
  /** (2,B) first and last counted position of each sequence */
  span: Uint32Array;
  n: number;
  finished: number;
  scores: Float32Array;
}

// Stats slots, filled by dot_sum.
const S_KL = 0;
const S_ENTROPY = 1;
const S_POLICY_LOSS = 2;
const S_CLIPFRAC = 3;
const S_APPROXKL = 4;
const S_RATIO = 5;
const S_VALUE_LOSS = 6;
const S_VALUE_CLIPFRAC = 7;

/** The PPO step's GPU buffers: batch rows (N = B·T), one minibatch's gathered rows, and the stats sums. */
interface PpoBuffers {
  targets: GPUBuffer;
  weights: GPUBuffer;
  ones: GPUBuffer;
  span: GPUBuffer;
  scores: GPUBuffer;
  logpOld: GPUBuffer;
  entropy: GPUBuffer;
  refLogp: GPUBuffer;
  refEntropy: GPUBuffer;
  valuesOld: GPUBuffer;
  values: GPUBuffer;
  dvalues: GPUBuffer;
  rewards: GPUBuffer;
  advantages: GPUBuffer;
  returns: GPUBuffer;
  kl: GPUBuffer;
  tokenLoss: GPUBuffer;
  tokenStats: GPUBuffer;
  mbTargets: GPUBuffer;
  mbWeights: GPUBuffer;
  mbValueWeights: GPUBuffer;
  mbLogpOld: GPUBuffer;
  mbAdvantages: GPUBuffer;
  mbReturns: GPUBuffer;
  mbValuesOld: GPUBuffer;
  valueStats: GPUBuffer;
  stats: GPUBuffer;
}

export class PpoTrainer {
  readonly policy: GPT;
  readonly settings: PpoSettings;
  readonly T: number;
  /** the current KL coefficient (adaptive control moves it) */
  beta: number;
  private readonly reference: GPT;
  private readonly value: GPT;
  private readonly valueHead: ParamTensor;
  private readonly valueHeadArena: ParamArena;
  private readonly reward: RewardModel;
  private readonly generator: Generator;
  readonly optimizer: AdamW;
  private readonly buf: PpoBuffers;
  private readonly readback: GPUBuffer;
  private readonly eosId: number;
  private readonly ptx: { model: GPT; batch: (step: number) => Batch } | null;

  constructor(
    private readonly gpu: Gpu,
    models: PpoModels,
    settings: PpoSettings,
    optimizer: AdamWConfig,
    eosId: number,
  ) {
    this.settings = settings;
    this.eosId = eosId;
    this.beta = settings.klCoef;
    const B = settings.batchSize;
    const T = settings.maxPromptLength + settings.responseLength;
    this.T = T;
    const config = models.policy.config;
    const rewardConfig = models.reward.config;
    if (T > config.nPositions) {
      throw new Error(`prompts of ${settings.maxPromptLength} tokens and responses of ${settings.responseLength} exceed the model's context of ${config.nPositions}`);
    }
    if (rewardConfig.nEmbd !== config.nEmbd || rewardConfig.nLayer !== config.nLayer || rewardConfig.nHead !== config.nHead) {
      // The value model starts from the reward model but runs the policy's vocabulary and shapes.
      throw new Error('the reward model must have the policy model\'s shape (n_layer, n_head, n_embd): the value model starts from it');
    }
    if (!Number.isInteger(settings.miniBatches) || settings.miniBatches < 1 || B % settings.miniBatches !== 0) {
      throw new Error(`the batch of ${B} prompts does not split into ${settings.miniBatches} equal minibatches`);
    }
    const value = models.value ?? models.reward;
    const rewardHead = headOf(models.reward, 'the reward model');
    const valueHead = headOf(value, 'the value model');
    // Policy, reference and value run one minibatch of sequences at a time;
    // rollouts are scored in the same chunks.
    const Bm = B / settings.miniBatches;
    this.policy = new GPT(gpu, config, Bm, T);
    this.policy.setParameters(models.policy.params);
    this.reference = new GPT(gpu, config, Bm, T);
    this.reference.setParameters((models.reference ?? models.policy).params);
    this.value = new GPT(gpu, rewardConfig, Bm, T);
    this.value.setParameters(value.params);
    const C = config.nEmbd;
    this.valueHeadArena = new ParamArena(gpu, [{ name: 'value.score', shape: [1, C], size: C, init: 'normal', decay: true, conv1d: false }], 'value.score');
    this.valueHead = this.valueHeadArena.tensors[0]!;
    gpu.write(this.valueHead.value, valueHead);
    this.reward = new RewardModel(gpu, rewardConfig, B, T);
    this.reward.setParameters(models.reward.params, rewardHead);
    this.generator = new Generator(this.policy, { maxBatch: B, maxLength: T });
    if (settings.ptxCoef > 0) {
      if (!models.ptxBatch) throw new Error('PPO-ptx needs pretraining batches (ptxBatch)');
      const ptxModel = new GPT(gpu, config, models.ptxBatchSize ?? B, T, { shareParametersWith: this.policy });
      this.ptx = { model: ptxModel, batch: models.ptxBatch };
    } else {
      this.ptx = null;
    }
    this.optimizer = new AdamW(gpu, [...this.policy.params, ...this.value.params, this.valueHead], optimizer, [
      ...this.policy.params.map((p) => `policy.${p.spec.name}`),
      ...this.value.params.map((p) => `value.${p.spec.name}`),
      // the head's moments under its name in model.safetensors
      `value.${SCORE_NAME}`,
    ]);
    const N = B * T;
    const f = (label: string, n: number) => gpu.createBuffer(`ppo.${label}`, n * 4);
    this.buf = {
      targets: f('targets', N),
      weights: f('weights', N),
      ones: gpu.createBufferFrom('ppo.ones', new Float32Array(N).fill(1)),
      span: f('span', 2 * B),
      scores: f('scores', B),
      logpOld: f('logpOld', N),
      entropy: f('entropy', N),
      refLogp: f('refLogp', N),
      refEntropy: f('refEntropy', N),
      valuesOld: f('valuesOld', N),
      values: f('values', N),
      dvalues: f('dvalues', N),
      rewards: f('rewards', N),
      advantages: f('advantages', N),
      returns: f('returns', N),
      kl: f('kl', N),
      tokenLoss: f('tokenLoss', N),
      tokenStats: f('tokenStats', 3 * N),
      // one minibatch's rows, gathered from the batch buffers above
      mbTargets: f('mb.targets', N / settings.miniBatches),
      mbWeights: f('mb.weights', N / settings.miniBatches),
      mbValueWeights: f('mb.valueWeights', N / settings.miniBatches),
      mbLogpOld: f('mb.logpOld', N / settings.miniBatches),
      mbAdvantages: f('mb.advantages', N / settings.miniBatches),
      mbReturns: f('mb.returns', N / settings.miniBatches),
      mbValuesOld: f('mb.valuesOld', N / settings.miniBatches),
      valueStats: f('valueStats', 2 * N),
      stats: f('stats', 8),
    };
    this.readback = gpu.device.createBuffer({ label: 'ppo.readback', size: 48, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  }

  /** One PPO step on a batch of prompts (token ids), at learning rate lr. */
  async step(prompts: readonly Int32Array[], stepIndex: number, lr: number): Promise<PpoMetrics> {
    const s = this.settings;
    const B = s.batchSize;
    const T = this.T;
    const N = B * T;
    const Bm = B / s.miniBatches;
    const Nm = Bm * T;
    if (prompts.length !== B) throw new Error(`a PPO step takes ${B} prompts, got ${prompts.length}`);
    const rollout = await this.rollout(prompts, stepIndex);
    const invTemp = 1 / (s.temperature + 1e-7);
    const V = this.policy.config.vocabSize;
    const C = this.policy.config.nEmbd;
    const b = this.buf;
    const rowsOf = (model: GPT, k: number) => model.sequences(k) * T;
    const microOffset = (model: GPT, k: number) => k * model.plan.micro * T;

    // Log-probs of the policy and the reference, and values, a minibatch of
    // sequences at a time (each chunk's tokens are written before it is submitted).
    for (let chunk = 0; chunk < s.miniBatches; chunk++) {
      const base = chunk * Nm;
      const tokens = rollout.tokens.subarray(base, base + Nm);
      for (const m of [this.policy, this.reference, this.value]) m.uploadTokens(tokens);
      const rec = new Recorder(this.gpu);
      this.recordLogprobs(rec, base);
      for (let k = 0; k < this.value.plan.microBatches; k++) {
        this.value.recordTrunkForward(rec, k);
        valueForward(rec, b.valuesOld, this.value.finalHidden, this.valueHead.value, { R: rowsOf(this.value, k), C, rowOffset: base + microOffset(this.value, k) });
      }
      rec.submit();
    }

    // Rewards (KL penalty and scores), GAE, whitened advantages.
    let rec = new Recorder(this.gpu);
    const shape = { R: N, B, T, klK3: s.klEstimator === 'k3', beta: this.beta, gamma: s.gamma, lam: s.lam };
    ppoRewards(rec, b.rewards, b.kl, b.logpOld, b.refLogp, b.scores, b.span, shape);
    if (s.whitenRewards) whiten(rec, b.rewards, b.weights, N, rollout.n, false);
    ppoGae(rec, b.advantages, b.returns, b.rewards, b.valuesOld, b.span, shape);
    dotSum(rec, b.stats, S_KL, b.kl, b.ones, N);
    dotSum(rec, b.stats, S_ENTROPY, b.entropy, b.weights, N);
    whiten(rec, b.advantages, b.weights, N, rollout.n);
    rec.copy(b.stats, 0, this.readback, 0, 8);
    rec.submit();
    const rolloutStats = await this.read();
    const klSum = rolloutStats[S_KL]! / B; // per sequence, summed over its tokens
    const entropy = (rolloutStats[S_ENTROPY]! * rollout.n) / B;

    // PPO epochs, each over the minibatches of a fresh seeded order.
    if (this.ptx) this.ptx.model.upload(this.ptx.batch(stepIndex), s.ptxCoef);
    const updates = s.ppoEpochs * s.miniBatches;
    let ptxLoss = 0;
    let sums = new Float32Array(8);
    let gradNorm = 0;
    for (let epoch = 0; epoch < s.ppoEpochs; epoch++) {
      const order = epochPermutation(B, s.seed * 7919 + stepIndex, epoch);
      for (let mb = 0; mb < s.miniBatches; mb++) {
        const rows = Array.from(order.subarray(mb * Bm, (mb + 1) * Bm));
        this.gatherMinibatch(rows, rollout);
        this.optimizer.lr = lr;
        this.optimizer.prepare();
        rec = new Recorder(this.gpu);
        for (const [i, seq] of rows.entries()) {
          for (const [from, to] of [
            [b.targets, b.mbTargets],
            [b.logpOld, b.mbLogpOld],
            [b.advantages, b.mbAdvantages],
            [b.returns, b.mbReturns],
            [b.valuesOld, b.mbValuesOld],
          ] as const) {
            rec.copy(from, seq * T * 4, to, i * T * 4, T * 4);
          }
        }
        this.policy.recordZeroGradients(rec);
        this.value.recordZeroGradients(rec);
        this.valueHeadArena.recordZeroGradients(rec);
        for (let k = 0; k < this.policy.plan.microBatches; k++) {
          this.policy.recordWithLogitsHead(rec, k, true, (r, logits, firstRow, count) =>
            ppoPolicyLoss(r, logits, b.tokenLoss, b.tokenStats, b.mbTargets, b.mbLogpOld, b.mbAdvantages, b.mbWeights, {
              R: count,
              V,
              rowOffset: firstRow,
              B: Bm,
              T,
              invTemp,
              clip: s.cliprange,
            }),
          );
          this.policy.recordTrunkBackward(rec, k);
        }
        // PPO-ptx: the pretraining loss's gradient joins the policy's.
        this.ptx?.model.recordAccumulatedGradients(rec);
        const valueMicro = this.value.plan.microBatches;
        for (let k = 0; k < valueMicro; k++) {
          this.value.recordTrunkForward(rec, k);
          valueForward(rec, b.values, this.value.finalHidden, this.valueHead.value, { R: rowsOf(this.value, k), C, rowOffset: microOffset(this.value, k) });
        }
        valueLoss(rec, b.dvalues, b.valueStats, b.values, b.mbValuesOld, b.mbReturns, b.mbValueWeights, { R: Nm, clip: s.cliprangeValue });
        for (let k = 0; k < valueMicro; k++) {
          if (valueMicro > 1) this.value.recordTrunkForward(rec, k);
          const p = { R: rowsOf(this.value, k), C, rowOffset: microOffset(this.value, k) };
          valueBackward(rec, this.value.finalHiddenGrad, this.valueHead.grad, b.dvalues, this.value.finalHidden, this.valueHead.value, p);
          this.value.recordTrunkBackward(rec, k);
        }
        this.optimizer.record(rec);
        dotSum(rec, b.stats, S_POLICY_LOSS, b.tokenLoss, b.ones, Nm);
        dotSum(rec, b.stats, S_CLIPFRAC, b.tokenStats, b.ones, Nm, 0);
        dotSum(rec, b.stats, S_APPROXKL, b.tokenStats, b.ones, Nm, Nm);
        dotSum(rec, b.stats, S_RATIO, b.tokenStats, b.ones, Nm, 2 * Nm);
        dotSum(rec, b.stats, S_VALUE_LOSS, b.valueStats, b.ones, Nm, 0);
        dotSum(rec, b.stats, S_VALUE_CLIPFRAC, b.valueStats, b.ones, Nm, Nm);
        rec.copy(b.stats, 0, this.readback, 0, 32);
        rec.copy(this.optimizer.norm, 0, this.readback, 32, 4);
        if (this.ptx) rec.copy(this.ptx.model.lossBuffer, 0, this.readback, 36, 4);
        rec.submit();
        const v = await this.read();
        sums = sums.map((x, i) => x + v[i]! / updates);
        gradNorm = v[8]!;
        if (this.ptx) ptxLoss += v[9]! / s.ptxCoef / updates;
      }
    }

    const scores = rollout.scores.reduce((a, x) => a + x, 0) / B;
    const nonScore = -this.beta * klSum;
    const metrics: PpoMetrics = {
      'objective/kl': klSum,
      'objective/entropy': entropy,
      'objective/scores': scores,
      'objective/non_score_reward': nonScore,
      'objective/rlhf_reward': scores + nonScore,
      'objective/kl_coef': this.beta,
      'policy/approxkl_avg': sums[S_APPROXKL]!,
      'policy/clipfrac_avg': sums[S_CLIPFRAC]!,
      'loss/policy_avg': sums[S_POLICY_LOSS]!,
      // The value gradient carried vfCoef in its weights; report the loss itself.
      'loss/value_avg': sums[S_VALUE_LOSS]! / s.vfCoef,
      'val/clipfrac_avg': sums[S_VALUE_CLIPFRAC]! / s.vfCoef,
      'val/ratio': sums[S_RATIO]!,
      'val/num_eos_tokens': rollout.finished,
      'loss/ptx': ptxLoss,
      grad_norm: gradNorm,
    };
    if (s.targetKl !== null) {
      // Ziegler et al.'s adaptive controller, as TRL's AdaptiveKLController.
      const error = Math.min(Math.max(klSum / s.targetKl - 1, -0.2), 0.2);
      this.beta *= 1 + (error * B) / s.klHorizon;
    }
    return metrics;
  }

  /**
   * Queue a minibatch's tokens to the policy and value models, and its loss
   * weights: masked means within the minibatch, as TRL's.
   */
  private gatherMinibatch(rows: readonly number[], rollout: Rollout): void {
    const T = this.T;
    const tokens = new Int32Array(rows.length * T);
    const weights = new Float32Array(rows.length * T);
    let n = 0;
    rows.forEach((seq, i) => {
      tokens.set(rollout.tokens.subarray(seq * T, (seq + 1) * T), i * T);
      for (let t = rollout.span[seq]!; t <= rollout.span[this.settings.batchSize + seq]!; t++) weights[i * T + t] = 1;
      n += rollout.span[this.settings.batchSize + seq]! - rollout.span[seq]! + 1;
    });
    for (let i = 0; i < weights.length; i++) weights[i]! /= n;
    this.policy.uploadTokens(tokens);
    this.value.uploadTokens(tokens);
    this.gpu.write(this.buf.mbWeights, weights);
    this.gpu.write(this.buf.mbValueWeights, weights.map((w) => w * this.settings.vfCoef));
  }

  /** Responses of the current policy, for evaluation. */
  generate(prompts: readonly Int32Array[], seed: number, temperature = this.settings.temperature) {
    return this.generator.generate(prompts, {
      maxNewTokens: this.settings.responseLength,
      temperature,
      topK: this.settings.topK,
      topP: this.settings.topP,
      seed,
      eosId: this.eosId,
      vocabLimit: this.settings.vocabLimit,
    });
  }

  /** Reward-model scores of prompt + response pairs (B of them). */
  async score(prompts: readonly Int32Array[], responses: readonly Int32Array[]): Promise<Float32Array> {
    const { tokens, last } = this.pack(prompts, responses);
    return this.reward.rewards(tokens, last);
  }

  /**
   * Each response's KL from the policy to the reference, in nats, summed over
   * its tokens at the sampling temperature (as `objective/kl` measures a
   * rollout's): the over-optimisation curve's x, measured on held-out prompts
   * rather than the step's noisy batch. B prompt/response pairs; between steps only.
   */
  async klToReference(prompts: readonly Int32Array[], responses: readonly Int32Array[]): Promise<Float64Array> {
    const s = this.settings;
    const B = s.batchSize;
    const T = this.T;
    const Nm = (B / s.miniBatches) * T;
    if (prompts.length !== B) throw new Error(`klToReference takes ${B} prompts, got ${prompts.length}`);
    const { tokens } = this.pack(prompts, responses);
    const b = this.buf;
    this.gpu.write(b.targets, this.nextTokens(tokens));
    for (let chunk = 0; chunk < s.miniBatches; chunk++) {
      const base = chunk * Nm;
      for (const m of [this.policy, this.reference]) m.uploadTokens(tokens.subarray(base, base + Nm));
      const rec = new Recorder(this.gpu);
      this.recordLogprobs(rec, base);
      rec.submit();
    }
    const policy = await this.gpu.readF32(b.logpOld, 0, B * T);
    const reference = await this.gpu.readF32(b.refLogp, 0, B * T);
    return Float64Array.from(prompts, (p, i) => {
      let kl = 0;
      // Position t predicts token t+1: the response's tokens are predicted from p.length-1 on.
      for (let t = p.length - 1; t < p.length - 1 + responses[i]!.length; t++) kl += policy[i * T + t]! - reference[i * T + t]!;
      return kl;
    });
  }

  async getPolicyParameters(): Promise<Map<string, Float32Array>> {
    return this.policy.getParameters();
  }

  /** The value model with its head. */
  async getValueModel(): Promise<Weights> {
    return { config: this.value.config, params: await this.value.getParameters(), head: await this.gpu.readF32(this.valueHead.value, 0, this.valueHead.spec.size) };
  }

  /** The optimizer moments and KL coefficient, for a resumable checkpoint. */
  async getState(): Promise<PpoTrainerState> {
    return { optimizer: await this.optimizer.getState(), beta: this.beta };
  }

  /** Continues a saved run: its moments and KL coefficient (the weights come through PpoModels). */
  setState(state: PpoTrainerState): void {
    if (!Number.isFinite(state.beta) || state.beta < 0) throw new Error(`the saved KL coefficient must be a finite number ≥ 0, got ${state.beta}`);
    this.optimizer.setState(state.optimizer);
    this.beta = state.beta;
  }

  destroy(): void {
    for (const x of Object.values(this.buf)) x.destroy();
    this.readback.destroy();
    this.valueHeadArena.destroy();
    this.optimizer.destroy();
    this.generator.destroy();
    this.ptx?.model.destroy();
    this.reward.destroy();
    this.value.destroy();
    this.reference.destroy();
    this.policy.destroy();
  }

  /**
   * Records the policy's and the reference's log-probabilities of b.targets
   * (into logpOld/entropy and refLogp/refEntropy) for the minibatch of
   * sequences whose tokens the models hold, starting at row `base`.
   */
  private recordLogprobs(rec: Recorder, base: number): void {
    const b = this.buf;
    const invTemp = 1 / (this.settings.temperature + 1e-7);
    const V = this.policy.config.vocabSize;
    for (let k = 0; k < this.policy.plan.microBatches; k++) {
      this.policy.recordWithLogitsHead(rec, k, false, (r, logits, firstRow, rows) =>
        tokenLogprobs(r, b.logpOld, b.entropy, logits, b.targets, { R: rows, V, rowOffset: base + firstRow, invTemp }),
      );
      this.reference.recordWithLogitsHead(rec, k, false, (r, logits, firstRow, rows) =>
        tokenLogprobs(r, b.refLogp, b.refEntropy, logits, b.targets, { R: rows, V, rowOffset: base + firstRow, invTemp }),
      );
    }
  }

  /** Each position's next token (what position t predicts), EOS past the end. */
  private nextTokens(tokens: Int32Array): Int32Array {
    const targets = new Int32Array(tokens.length).fill(this.eosId);
    targets.set(tokens.subarray(1));
    return targets;
  }

  /** Prompt + response rows padded with EOS, and each row's last real position. */
  private pack(prompts: readonly Int32Array[], responses: readonly Int32Array[]) {
    const T = this.T;
    const tokens = new Int32Array(prompts.length * T).fill(this.eosId);
    const last = new Int32Array(prompts.length);
    prompts.forEach((p, b) => {
      tokens.set(p, b * T);
      tokens.set(responses[b]!, b * T + p.length);
      last[b] = p.length + Math.max(responses[b]!.length, 1) - 1;
    });
    return { tokens, last };
  }

  private async rollout(prompts: readonly Int32Array[], stepIndex: number): Promise<Rollout> {
    const s = this.settings;
    const B = s.batchSize;
    const T = this.T;
    prompts.forEach((p, i) => {
      if (p.length > s.maxPromptLength) throw new Error(`prompt ${i} has ${p.length} tokens, more than the longest allowed (${s.maxPromptLength})`);
    });
    const gen = await this.generate(prompts, s.seed * 1000003 + stepIndex);
    const { tokens, last } = this.pack(prompts, gen.responses);
    const targets = this.nextTokens(tokens);
    const span = new Uint32Array(2 * B);
    let n = 0;
    prompts.forEach((p, b) => {
      // Position t predicts token t+1: the response's tokens are predicted from p.length-1 on.
      span[b] = p.length - 1;
      span[B + b] = p.length - 1 + gen.responses[b]!.length - 1;
      n += gen.responses[b]!.length;
    });
    const weights = new Float32Array(B * T);
    for (let b = 0; b < B; b++) weights.fill(1 / n, b * T + span[b]!, b * T + span[B + b]! + 1);
    const scores = await this.reward.rewards(tokens, last);
    gen.finished.forEach((done, b) => {
      if (!done && s.missingEosPenalty !== null) scores[b]! -= s.missingEosPenalty;
      if (s.scoreClip !== null) scores[b] = Math.min(Math.max(scores[b]!, -s.scoreClip), s.scoreClip);
    });
    const b = this.buf;
    this.gpu.write(b.targets, targets);
    this.gpu.write(b.weights, weights);
    this.gpu.write(b.span, span);
    this.gpu.write(b.scores, scores);
    return { tokens, span, n, finished: gen.finished.filter(Boolean).length, scores };
  }

  private read(): Promise<Float32Array> {
    return this.gpu.readMapped(this.readback);
  }
}
