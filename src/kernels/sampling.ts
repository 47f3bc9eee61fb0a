/** Choosing next tokens on the GPU (see shaders/sampling.wgsl). */
import type { Binding } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';

export interface SamplingSettings {
  /** 0: greedy */
  temperature: number;
  /** 0: off */
  topK: number;
  /** 1: off */
  topP: number;
  seed: number;
}

export interface SamplingState {
  /** (B,maxT) i32: prompts, then generated tokens */
  seq: Binding;
  /** (B,maxT) f32 */
  logprobs: Binding;
  /** (B) u32 */
  done: Binding;
  /** (B) u32 */
  promptLen: Binding;
}

/** The token produced from position `pos` goes to column pos+1 of `seq`. */
export function sampleTokens(
  rec: Recorder,
  state: SamplingState,
  logits: Binding,
  B: number,
  V: number,
  maxT: number,
  pos: number,
  eos: number,
  maxNew: number,
  s: SamplingSettings,
): void {
  const gpu = rec.gpu;
  rec.dispatch(
    'sample_tokens',
    gpu.pipeline('sampling', 'sample_tokens'),
    [
      gpu.uniform([V, maxT, pos, s.seed >>> 0, s.topK, eos, maxNew], [s.temperature, s.topP]),
      state.seq,
      state.logprobs,
      state.done,
      logits,
      state.promptLen,
    ],
    [B],
    { flops: 4 * B * V, bytes: 4 * B * V },
  );
}
