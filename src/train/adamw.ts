/**
 * AdamW over a model's parameters, on the GPU: moments, the global gradient
 * norm and clipping, and the update are all recorded into the training step's
 * encoder. Weight decay applies to tensors of 2+ dims only (nanoGPT's rule).
 *
 * The parameters live in arenas (model/param-arena.ts), decayed tensors
 * side by side and the others side by side; the optimizer finds those spans
 * and updates each, and sums its gradients' squares, in windows of at most a
 * binding: GPT-2's 148 tensors take a handful of dispatches, not ~300. The
 * moments live in arenas of the same spans.
 */
import { arenaLayout, window, type BufferWindow } from '../gpu/buffers.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { adamwUpdate, createAdamWHyper, writeAdamWHyper } from '../kernels/adamw.ts';
import { gradNorm, planGradNorm, type GradNormPlan } from '../kernels/gradnorm.ts';
import type { ParamTensor, StepOptimizer } from '../model/gpt.ts';
import { arenaAlignBytes } from '../model/param-arena.ts';

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

/**
 * Tensors that the optimizer updates as one: side by side in the same value
 * and gradient buffers (as an arena lays them out, nothing but padding
 * between them) and with the same decay setting. The windows cover the span
 * and its padding, whose gradients are zero, so the update keeps it at zero.
 */
export interface ParamSpan {
  value: BufferWindow;
  grad: BufferWindow;
  m: BufferWindow;
  v: BufferWindow;
  /** elements the windows cover */
  length: number;
  decay: boolean;
  /** the tensors in the span: their index in the optimizer's list and first element in the span */
  members: { index: number; first: number }[];
}

/**
 * The spans of `params`: tensors in the order of their buffers' first
 * appearance and their offsets, a tensor joining the span before it where it
 * starts where an arena would place the next tensor, in both buffers.
 * Moments are not yet placed (m and v are set by the caller).
 */
export function planParamSpans(gpu: Gpu, params: readonly ParamTensor[]): Omit<ParamSpan, 'm' | 'v'>[] {
  const align = arenaAlignBytes(gpu);
  const alignUp = (bytes: number, to: number) => Math.ceil(bytes / to) * to;
  const bufferRank = new Map<GPUBuffer, number>();
  for (const p of params) if (!bufferRank.has(p.value.buffer)) bufferRank.set(p.value.buffer, bufferRank.size);
  const order = [...params.keys()].sort(
    (a, b) =>
      bufferRank.get(params[a]!.value.buffer)! - bufferRank.get(params[b]!.value.buffer)! ||
      params[a]!.value.offset - params[b]!.value.offset,
  );
  const spans: Omit<ParamSpan, 'm' | 'v'>[] = [];
  let span: (typeof spans)[number] | undefined;
  let end = 0; // bytes past the span's value window's start covered by its last tensor
  for (const index of order) {
    const p = params[index]!;
    const bytes = p.spec.size * 4;
    if (p.value.size !== bytes || p.grad.size !== bytes) {
      throw new Error(`parameter ${p.spec.name}: its windows do not hold its ${p.spec.size} elements`);
    }
    const next = span ? alignUp(end, align) : 0;
    const joins =
      span !== undefined &&
      p.spec.decay === span.decay &&
      p.value.buffer === span.value.buffer &&
      p.grad.buffer === span.grad.buffer &&
      p.value.offset - span.value.offset === next &&
      p.grad.offset - span.grad.offset === next;
    if (span && joins) {
      span.members.push({ index, first: next / 4 });
      end = next + bytes;
    } else {
      span = { value: p.value, grad: p.grad, length: 0, decay: p.spec.decay, members: [{ index, first: 0 }] };
      spans.push(span);
      end = bytes;
    }
    span.length = end / 4;
  }
  for (const s of spans) {
    // Whole vec4s where the buffers hold them (arenas always do): the kernels'
    // four-a-lane paths then run over the whole span.
    const padded = alignUp(s.length, 4);
    if (s.value.offset + padded * 4 <= s.value.buffer.size && s.grad.offset + padded * 4 <= s.grad.buffer.size) {
      s.length = padded;
    }
    s.value = window(s.value.buffer, s.value.offset / 4, s.length);
    s.grad = window(s.grad.buffer, s.grad.offset / 4, s.length);
  }
  return spans;
}

export class AdamW implements StepOptimizer {
  readonly norm: GPUBuffer;
  /** steps taken so far; the next update is step `step + 1` */
  step = 0;
  /** learning rate of the next step (schedules set it) */
  lr: number;
  readonly spans: readonly ParamSpan[];
  private readonly moments: GPUBuffer[];
  private readonly hyper: GPUBuffer;
  private readonly partials: GPUBuffer;
  private readonly plan: GradNormPlan;
  /** each tensor's key in getState/setState */
  private readonly stateNames: readonly string[];

  /**
   * `stateNames`: each tensor's key in the saved moments (default: its
   * parameter name); models that share names (PPO's policy and value model)
   * pass distinct ones.
   */
  constructor(
    private readonly gpu: Gpu,
    private readonly params: readonly ParamTensor[],
    readonly config: AdamWConfig = ADAMW_DEFAULTS,
    stateNames?: readonly string[],
  ) {
    this.lr = config.lr;
    this.stateNames = stateNames ?? params.map((p) => p.spec.name);
    if (this.stateNames.length !== params.length) throw new Error(`AdamW: ${this.stateNames.length} state names for ${params.length} tensors`);
    const repeated = this.stateNames.find((n, i) => this.stateNames.indexOf(n) !== i);
    if (repeated !== undefined) throw new Error(`AdamW: two tensors share the state name ${repeated}; pass distinct stateNames`);
    const spans = planParamSpans(gpu, params);
    const { places, lengths } = arenaLayout(
      spans.map((s) => s.length),
      arenaAlignBytes(gpu),
      gpu.limits.maxBufferBytes,
    );
    const m = lengths.map((n, a) => gpu.createBuffer(`adamw.m.arena${a}`, n * 4));
    const v = lengths.map((n, a) => gpu.createBuffer(`adamw.v.arena${a}`, n * 4));
    this.moments = [...m, ...v];
    this.spans = spans.map((s, i) => {
      const { arena, first } = places[i]!;
      return { ...s, m: window(m[arena]!, first, s.length), v: window(v[arena]!, first, s.length) };
    });
    this.hyper = createAdamWHyper(gpu);
    this.plan = planGradNorm(
      gpu,
      this.spans.map((s) => ({ buffer: s.grad, size: s.length })),
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
    for (const s of this.spans) adamwUpdate(rec, s.value, s.m, s.v, s.grad, this.hyper, this.norm, s.length, s.decay);
  }

  /** The moments, for resumable checkpoints. */
  async getState(): Promise<{ m: Map<string, Float32Array>; v: Map<string, Float32Array>; step: number }> {
    const m = new Map<string, Float32Array>();
    const v = new Map<string, Float32Array>();
    for (const { p, span, first, name } of this.tensors()) {
      m.set(name, await this.gpu.readF32(span.m, first, p.spec.size));
      v.set(name, await this.gpu.readF32(span.v, first, p.spec.size));
    }
    return { m, v, step: this.step };
  }

  setState(state: { m: ReadonlyMap<string, Float32Array>; v: ReadonlyMap<string, Float32Array>; step: number }): void {
    const tensors = this.tensors();
    // Check every tensor before writing any: a bad state leaves the moments as they were.
    for (const { p, name } of tensors) {
      const { size } = p.spec;
      const m = state.m.get(name);
      const v = state.v.get(name);
      if (!m || !v || m.length !== size || v.length !== size) {
        throw new Error(`optimizer state for ${name} is missing or has the wrong size (expected ${size})`);
      }
    }
    for (const { span, first, name } of tensors) {
      this.gpu.write(span.m, state.m.get(name)!, first * 4);
      this.gpu.write(span.v, state.v.get(name)!, first * 4);
    }
    this.step = state.step;
  }

  destroy(): void {
    for (const b of [...this.moments, this.hyper, this.partials, this.norm]) b.destroy();
  }

  /** Each tensor, in the order given, with its span and first element there. */
  private tensors(): { p: ParamTensor; span: ParamSpan; first: number; name: string }[] {
    const out: { p: ParamTensor; span: ParamSpan; first: number; name: string }[] = new Array(this.params.length);
    for (const span of this.spans) {
      for (const { index, first } of span.members) out[index] = { p: this.params[index]!, span, first, name: this.stateNames[index]! };
    }
    return out;
  }
}
