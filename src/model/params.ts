/**
 * The parameter table: every tensor's name, shape, initialisation and whether
 * weight decay applies, computed from the config. Names are Hugging Face GPT-2's
 * (without the `transformer.` prefix). Linear weights are stored (out, in), the
 * PyTorch Linear layout the kernels use; Hugging Face's Conv1D stores (in, out),
 * so those tensors (`conv1d: true`) are transposed when checkpoints are read
 * or written.
 */
import { Rng } from '../data/random.ts';
import type { GPTConfig } from './config.ts';

export type ParamInit = 'normal' | 'residual' | 'zeros' | 'ones';

export interface ParamSpec {
  name: string;
  shape: readonly number[];
  size: number;
  init: ParamInit;
  /** AdamW weight decay applies (tensors of 2+ dims: matrices and embeddings) */
  decay: boolean;
  /** stored transposed in Hugging Face checkpoints (Conv1D) */
  conv1d: boolean;
}

function spec(name: string, shape: number[], init: ParamInit, conv1d = false): ParamSpec {
  return { name, shape, size: shape.reduce((a, b) => a * b, 1), init, decay: shape.length >= 2, conv1d };
}

export function parameterTable(config: GPTConfig): ParamSpec[] {
  const { nLayer: L, nEmbd: C, nPositions: P, vocabSize: V } = config;
  const table = [spec('wte.weight', [V, C], 'normal'), spec('wpe.weight', [P, C], 'normal')];
  for (let l = 0; l < L; l++) {
    const h = `h.${l}`;
    table.push(
      spec(`${h}.ln_1.weight`, [C], 'ones'),
      spec(`${h}.ln_1.bias`, [C], 'zeros'),
      spec(`${h}.attn.c_attn.weight`, [3 * C, C], 'normal', true),
      spec(`${h}.attn.c_attn.bias`, [3 * C], 'zeros'),
      spec(`${h}.attn.c_proj.weight`, [C, C], 'residual', true),
      spec(`${h}.attn.c_proj.bias`, [C], 'zeros'),
      spec(`${h}.ln_2.weight`, [C], 'ones'),
      spec(`${h}.ln_2.bias`, [C], 'zeros'),
      spec(`${h}.mlp.c_fc.weight`, [4 * C, C], 'normal', true),
      spec(`${h}.mlp.c_fc.bias`, [4 * C], 'zeros'),
      spec(`${h}.mlp.c_proj.weight`, [C, 4 * C], 'residual', true),
      spec(`${h}.mlp.c_proj.bias`, [C], 'zeros'),
    );
  }
  table.push(spec('ln_f.weight', [C], 'ones'), spec('ln_f.bias', [C], 'zeros'));
  return table;
}

/**
 * GPT-2's initialisation: N(0, 0.02), residual projections N(0, 0.02/sqrt(2L)),
 * biases 0, LayerNorm weights 1. Seeded, so a run is reproducible.
 */
export function initParameters(config: GPTConfig, seed: number): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const residualStd = 0.02 / Math.sqrt(2 * config.nLayer);
  const out = new Map<string, Float32Array>();
  for (const p of parameterTable(config)) {
    const data = new Float32Array(p.size);
    if (p.init === 'normal') rng.fillRandn(data, 0.02);
    else if (p.init === 'residual') rng.fillRandn(data, residualStd);
    else if (p.init === 'ones') data.fill(1);
    out.set(p.name, data);
  }
  return out;
}
