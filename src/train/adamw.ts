/**
 * AdamW over a model's parameters, on the GPU: moments, the global gradient
 * norm and clipping, and the update are all recorded into the training step's
 * encoder. Weight decay applies to tensors of 2+ dims only (nanoGPT's rule).
 */
import type { Gpu } from '../gpu/gpu.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { adamwUpdate, createAdamWHyper, writeAdamWHyper } from '../kernels/adamw.ts';
import { gradNorm, planGradNorm, type GradNormPlan } from '../kernels/gradnorm.ts';
import type { ParamTensor, StepOptimizer } from '../model/gpt.ts';

export interface AdamWConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** max global gradient norm; 0 turns clipping off */
  gradClip: number;
}

/** nanoGPT / GPT-2 style defaults. */
export const ADAMW_DEFAULTS: AdamWConfig = {
  lr: 3e-4,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  weightDecay: 0.1,
  gradClip: 1.0,
};

export class AdamW implements StepOptimizer {
  readonly norm: GPUBuffer;
  /** steps taken so far; the next update is step `step + 1` */
  step = 0;
  /** learning rate of the next step (schedules set it) */
  lr: number;
  private readonly m: GPUBuffer[];
  private readonly v: GPUBuffer[];
  private readonly hyper: GPUBuffer;
  private readonly partials: GPUBuffer;
  private readonly plan: GradNormPlan;

  constructor(
    private readonly gpu: Gpu,
    private readonly params: readonly ParamTensor[],
    readonly config: AdamWConfig = ADAMW_DEFAULTS,
  ) {
    this.lr = config.lr;
    this.m = params.map((p) => gpu.createBuffer(`adamw.m.${p.spec.name}`, p.spec.size * 4));
    this.v = params.map((p) => gpu.createBuffer(`adamw.v.${p.spec.name}`, p.spec.size * 4));
    this.hyper = createAdamWHyper(gpu);
    this.plan = planGradNorm(
      gpu,
      params.map((p) => ({ buffer: p.grad, size: p.spec.size })),
    );
    this.partials = gpu.createBuffer('adamw.normPartials', this.plan.slots * 4);
    this.norm = gpu.createBuffer('adamw.norm', 8);
  }

  prepare(): void {
    this.step++;
    writeAdamWHyper(this.gpu, this.hyper, { ...this.config, lr: this.lr }, this.step);
  }

  record(rec: Recorder): void {
    gradNorm(rec, this.norm, this.partials, this.plan, this.config.gradClip);
    this.params.forEach((p, i) => {
      adamwUpdate(rec, p.value, this.m[i]!, this.v[i]!, p.grad, this.hyper, this.norm, p.spec.size, p.spec.decay);
    });
  }

  /** The moments, for resumable checkpoints. */
  async getState(): Promise<{ m: Map<string, Float32Array>; v: Map<string, Float32Array>; step: number }> {
    const m = new Map<string, Float32Array>();
    const v = new Map<string, Float32Array>();
    for (let i = 0; i < this.params.length; i++) {
      const { name, size } = this.params[i]!.spec;
      m.set(name, await this.gpu.readF32(this.m[i]!, 0, size));
      v.set(name, await this.gpu.readF32(this.v[i]!, 0, size));
    }
    return { m, v, step: this.step };
  }

  setState(state: { m: ReadonlyMap<string, Float32Array>; v: ReadonlyMap<string, Float32Array>; step: number }): void {
    this.params.forEach((p, i) => {
      const { name, size } = p.spec;
      const m = state.m.get(name);
      const v = state.v.get(name);
      if (!m || !v || m.length !== size || v.length !== size) {
        throw new Error(`optimizer state for ${name} is missing or has the wrong size (expected ${size})`);
      }
      this.gpu.write(this.m[i]!, m);
      this.gpu.write(this.v[i]!, v);
    });
    this.step = state.step;
  }

  destroy(): void {
    for (const b of [...this.m, ...this.v, this.hyper, this.partials, this.norm]) b.destroy();
  }
}
