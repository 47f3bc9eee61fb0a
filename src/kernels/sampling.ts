/**
 * Choosing next tokens on the GPU (see shaders/sampling.wgsl; its CPU twin,
 * the tests' spec, is sampling-cpu.ts). Outputs are written in place into the
 * generation state: `seq`, `logprobs` and `done`.
 */
import type { Binding } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { inverseTemperature, type SequenceRules } from './sampling-cpu.ts';

export type { SequenceRules };

export interface SamplingSettings {
  /** 0: greedy */
  temperature: number;
  /** 0: off */
  topK: number;
  /** 1: off */
  topP: number;
  /** taken modulo 2^32 */
  seed: number;
}

export interface SamplingState {
  /** (B,maxT) i32: prompts, then generated tokens */
  seq: Binding;
  /** (B,maxT) f32: log-probability of each generated token, 0 elsewhere */
  logprobs: Binding;
  /** (B) u32: 1 once a sequence has ended */
  done: Binding;
  /** (B) u32 */
  promptLen: Binding;
}

/**
 * For each of B rows of logits(B,V), the token that follows position `pos`,
 * into column pos+1 of `seq` (kept as is while that column is still prompt),
 * chosen among ids 0..rules.vocab-1 (default all V).
 */
export function sampleTokens(
  rec: Recorder,
  state: SamplingState,
  logits: Binding,
  B: number,
  V: number,
  maxT: number,
  pos: number,
  rules: SequenceRules,
  s: SamplingSettings,
): void {
  const gpu = rec.gpu;
  const greedy = s.temperature <= 0;
  // 1/temperature is rounded to f32 here, once, exactly as the reference does.
  const params = gpu.uniform(
    [V, maxT, pos, s.seed >>> 0, s.topK, rules.eos >>> 0, rules.pad, rules.maxNew, greedy ? 1 : 0, rules.vocab ?? V],
    [inverseTemperature(s.temperature), s.topP],
  );
  // Passes over the row: max, sum, 32 per threshold, the draw.
  const passes = 3 + (greedy ? 0 : (s.topK > 0 && s.topK < V ? 32 : 0) + (s.topP < 1 ? 33 : 0));
  rec.dispatch(
    'sample_tokens',
    gpu.pipeline('sampling', 'sample_tokens'),
    [params, state.seq, state.logprobs, state.done, logits, state.promptLen],
    [B],
    { flops: 4 * passes * B * V, bytes: 4 * passes * B * V },
  );
}
