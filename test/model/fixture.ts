/** The PyTorch GPT-2 fixture made by tools/make_gpt2_fixture.py. */
import { readFileSync } from 'node:fs';
import { configFromHF, paramsFromHF } from '../../src/io/hf-gpt2.ts';
import { parseSafetensors, tensorToFloat32, tensorToInt32, type SafeTensor } from '../../src/io/safetensors.ts';
import type { GPTConfig } from '../../src/model/config.ts';

export const FIXTURE_PATH = new URL('../fixtures/gpt2_tiny.safetensors', import.meta.url);

export interface Fixture {
  config: GPTConfig;
  B: number;
  T: number;
  adamw: { lr: number; beta1: number; beta2: number; eps: number; weight_decay: number; grad_clip: number; steps: number };
  params: Map<string, Float32Array>;
  grads: Map<string, Float32Array>;
  final: Map<string, Float32Array>;
  x: Int32Array;
  y: Int32Array;
  logits: Float32Array;
  loss: number;
  losses: Float32Array;
  gradNorms: Float32Array;
}

/** Tensors under `prefix`, renamed without it, read as a Hugging Face parameter set. */
function paramSet(tensors: Map<string, SafeTensor>, prefix: string, config: GPTConfig): Map<string, Float32Array> {
  const picked = new Map<string, SafeTensor>();
  for (const [name, t] of tensors) {
    if (prefix ? name.startsWith(prefix) : /^(wte|wpe|h\.|ln_f)/.test(name)) picked.set(name.slice(prefix.length), t);
  }
  return paramsFromHF(picked, config, `fixture ${prefix || 'params'}`).params;
}

export function loadFixture(): Fixture {
  const { tensors, metadata } = parseSafetensors(readFileSync(FIXTURE_PATH), 'gpt2_tiny.safetensors');
  const config = configFromHF(JSON.parse(metadata.config!), 'fixture config');
  const batch = JSON.parse(metadata.batch!) as { B: number; T: number };
  const f32 = (name: string) => tensorToFloat32(tensors.get(name)!, name);
  return {
    config,
    B: batch.B,
    T: batch.T,
    adamw: JSON.parse(metadata.adamw!),
    params: paramSet(tensors, '', config),
    grads: paramSet(tensors, 'grad.', config),
    final: paramSet(tensors, 'final.', config),
    x: tensorToInt32(tensors.get('x')!, 'x'),
    y: tensorToInt32(tensors.get('y')!, 'y'),
    logits: f32('logits'),
    loss: f32('loss')[0]!,
    losses: f32('adamw.losses'),
    gradNorms: f32('adamw.grad_norms'),
  };
}
