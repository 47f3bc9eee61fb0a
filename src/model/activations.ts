/**
 * Activation buffers, sized from the config for one micro-batch. A batch is
 * run as micro-batches of `micro` sequences so that every activation tensor
 * fits one storage binding (and memory stays bounded); parameter gradients
 * accumulate across micro-batches, so the result is the batch's gradient.
 */
import type { Gpu } from '../gpu/gpu.ts';
import type { GPTConfig } from './config.ts';

/** Per-layer tensors saved by the forward pass for the backward pass. */
export interface LayerActivations {
  ln1: GPUBuffer; // (b,T,C)
  ln1Mean: GPUBuffer; // (b,T)
  ln1Rstd: GPUBuffer; // (b,T)
  qkv: GPUBuffer; // (b,T,3C)
  atty: GPUBuffer; // (b,T,C)
  att: GPUBuffer; // (b,NH,T,T)
  res2: GPUBuffer; // (b,T,C)
  ln2: GPUBuffer; // (b,T,C)
  ln2Mean: GPUBuffer; // (b,T)
  ln2Rstd: GPUBuffer; // (b,T)
  fch: GPUBuffer; // (b,T,4C)
  fchGelu: GPUBuffer; // (b,T,4C)
  res3: GPUBuffer; // (b,T,C)
}

export interface Activations {
  encoded: GPUBuffer; // (b,T,C)
  layers: LayerActivations[];
  lnf: GPUBuffer; // (b,T,C)
  lnfMean: GPUBuffer; // (b,T)
  lnfRstd: GPUBuffer; // (b,T)
  /** (rows,V): logits of one chunk of classifier rows, overwritten by their gradient */
  logits: GPUBuffer;
  losses: GPUBuffer; // (b,T)
  // backward scratch, reused by every layer
  proj: GPUBuffer; // (b,T,C) forward output of the two projections before the residual add
  dresA: GPUBuffer; // (b,T,C) residual-stream gradient, ping
  dresB: GPUBuffer; // (b,T,C) residual-stream gradient, pong
  dC: GPUBuffer; // (b,T,C)
  d3C: GPUBuffer; // (b,T,3C)
  d4C: GPUBuffer; // (b,T,4C)
  d4C2: GPUBuffer; // (b,T,4C)
  dpreatt: GPUBuffer; // (b,NH,T,T)
  dlnf: GPUBuffer; // (b,T,C)
  links: GPUBuffer; // (2,b,T) i32, encoder backward
}

/** How a batch of B sequences of T tokens is cut to fit the device's bindings. */
export interface BatchPlan {
  B: number;
  T: number;
  /** sequences per micro-batch */
  micro: number;
  /** micro-batches per batch (the last may be short) */
  microBatches: number;
  /** classifier rows per chunk of the logits */
  classifierRows: number;
}

/** `maxMicro` caps the sequences per micro-batch (gradient accumulation). */
export function planBatch(gpu: Gpu, config: GPTConfig, B: number, T: number, maxMicro = B): BatchPlan {
  const { nEmbd: C, nHead: NH, vocabSize: V } = config;
  if (T > config.nPositions) {
    throw new Error(`sequence length ${T} exceeds the model's context of ${config.nPositions} positions`);
  }
  const limit = gpu.limits.maxBindingBytes;
  // wte is bound in vocabulary windows; every other weight is bound whole.
  const widestWeight = 4 * Math.max(4 * C * C, config.nPositions * C);
  if (widestWeight > limit) {
    throw new Error(
      `a ${widestWeight}-byte weight matrix (n_embd=${C}) exceeds this device's storage binding limit of ${limit} bytes`,
    );
  }
  // The largest per-sequence tensors: attention probabilities and the MLP's hidden layer.
  const perSequence = 4 * Math.max(NH * T * T, 4 * T * C, 3 * T * C);
  if (perSequence > limit) {
    throw new Error(
      `one sequence of ${T} tokens needs a ${perSequence}-byte activation tensor, more than this device's ` +
        `storage binding limit of ${limit} bytes; use a shorter sequence length`,
    );
  }
  const micro = Math.max(1, Math.min(B, maxMicro, Math.floor(limit / perSequence)));
  // Classifier chunks start at row offsets that keep every per-row tensor's
  // binding aligned: a multiple of alignment/4 rows works for all of them.
  const rows = micro * T;
  const rowStep = gpu.limits.storageOffsetAlignment / 4;
  let classifierRows = rows;
  if (rows * V * 4 > limit) {
    classifierRows = Math.floor(Math.floor(limit / (V * 4)) / rowStep) * rowStep;
    if (classifierRows === 0) {
      throw new Error(
        `a vocabulary of ${V} is too wide for this device: ${rowStep} rows of logits exceed the ${limit}-byte binding limit`,
      );
    }
  }
  return { B, T, micro, microBatches: Math.ceil(B / micro), classifierRows };
}

export function allocateActivations(gpu: Gpu, config: GPTConfig, plan: BatchPlan): Activations {
  const { nLayer: L, nEmbd: C, nHead: NH, vocabSize: V } = config;
  const rows = plan.micro * plan.T;
  const f = (label: string, n: number) => gpu.createBuffer(`act.${label}`, n * 4);
  const layers: LayerActivations[] = [];
  for (let l = 0; l < L; l++) {
    const p = `h.${l}.`;
    layers.push({
      ln1: f(`${p}ln1`, rows * C),
      ln1Mean: f(`${p}ln1Mean`, rows),
      ln1Rstd: f(`${p}ln1Rstd`, rows),
      qkv: f(`${p}qkv`, rows * 3 * C),
      atty: f(`${p}atty`, rows * C),
      att: f(`${p}att`, plan.micro * NH * plan.T * plan.T),
      res2: f(`${p}res2`, rows * C),
      ln2: f(`${p}ln2`, rows * C),
      ln2Mean: f(`${p}ln2Mean`, rows),
      ln2Rstd: f(`${p}ln2Rstd`, rows),
      fch: f(`${p}fch`, rows * 4 * C),
      fchGelu: f(`${p}fchGelu`, rows * 4 * C),
      res3: f(`${p}res3`, rows * C),
    });
  }
  return {
    encoded: f('encoded', rows * C),
    layers,
    lnf: f('lnf', rows * C),
    lnfMean: f('lnfMean', rows),
    lnfRstd: f('lnfRstd', rows),
    logits: f('logits', plan.classifierRows * V),
    losses: f('losses', rows),
    proj: f('proj', rows * C),
    dresA: f('dresA', rows * C),
    dresB: f('dresB', rows * C),
    dC: f('dC', rows * C),
    d3C: f('d3C', rows * 3 * C),
    d4C: f('d4C', rows * 4 * C),
    d4C2: f('d4C2', rows * 4 * C),
    dpreatt: f('dpreatt', plan.micro * NH * plan.T * plan.T),
    dlnf: f('dlnf', rows * C),
    links: f('links', 2 * rows),
  };
}
