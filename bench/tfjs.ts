/**
 * TensorFlow.js with its WebGPU backend, our side-by-side peer: loaded in this
 * process on Dawn, on the same adapter as ours, and a GPT-2 written in tfjs
 * ops (its autodiff, its Adam) for the training-step comparison. Bench only:
 * tfjs is a dev dependency.
 */
import type * as Tf from '@tensorflow/tfjs-core';
import { throttleDawnPolling } from '../src/gpu/dawn-polling.ts';
import type { GPTConfig } from '../src/model/config.ts';
import type { Clock, Runner } from './timing.ts';

export type TfModule = typeof Tf;

export interface TfjsSetup {
  tf: TfModule;
  /** the adapter tfjs's request gets, named as src/gpu/device.ts names ours */
  adapter: string;
  /** whether tfjs's device has timestamp-query, so that tf.time reports GPU time (see tfMatmulRunner) */
  timestamps: boolean;
}

/**
 * tfjs-webgpu registers its backend at import time only if navigator.gpu
 * exists, and asks it for a high-performance adapter: give it a Dawn instance
 * of its own (Node 20 has no navigator), so its device and queue are separate
 * from ours but the adapter is the same.
 */
export async function loadTfjsWebgpu(): Promise<TfjsSetup> {
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (!g.navigator?.gpu) {
    const dawnModule = 'webgpu';
    const dawn = (await import(/* @vite-ignore */ dawnModule)) as { create: (flags: string[]) => GPU; globals: object };
    Object.assign(globalThis, dawn.globals);
    throttleDawnPolling(); // as for ours (src/gpu/dawn-polling.ts): the same process, the same waits
    // As src/gpu/device.ts does for ours: unrounded timestamps, else tf.time's
    // kernel times would come in steps of Dawn's fingerprinting guard.
    const gpu = dawn.create(['disable-dawn-features=timestamp_quantization']);
    if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
    else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  }
  const tf = await import('@tensorflow/tfjs-core');
  // tfjs-core registers gradients only on request (the tfjs union package does it).
  await import('@tensorflow/tfjs-core/dist/register_all_gradients');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs: the webgpu backend did not initialise');
  await tf.ready();
  // The same request tfjs made (base.ts in tfjs-backend-webgpu), to name its adapter.
  const adapter = await g.navigator!.gpu!.requestAdapter({ powerPreference: 'high-performance' });
  const info = adapter?.info;
  const name = info ? (info.description || [info.vendor, info.architecture, info.device].filter((s) => s).join(' ')).trim() : '';
  // tfjs asks for timestamp-query wherever the adapter has it (base.ts) and keeps the answer here.
  const timestamps = (tf.backend() as unknown as { supportTimestampQuery?: boolean }).supportTimestampQuery === true;
  return { tf, adapter: name || 'unknown adapter', timestamps };
}

/**
 * tf.matMul(a(M,K), b) with b stored (K,N), or (N,K) with transposeB; `dispose`
 * frees the operands. Each run is timed by `clock`:
 *  - 'gpu-timestamps': run under tf.time, resolving to its `kernelMs`. In
 *    tfjs-backend-webgpu 4.22 (backend_webgpu.ts, time and recordAndSubmit)
 *    every program run under tf.time gets a compute pass of its own with
 *    timestamp writes at its beginning and end, submitted at once and its two
 *    timestamps read back; kernelMs is the sum of those (end − begin) GPU
 *    times over the op's programs. The product is not read back. (Without
 *    timestamp-query each program counts 0 ms: callers check
 *    TfjsSetup.timestamps first.)
 *  - 'wall': the product read back by `.data()`, as the caller of a tfjs op
 *    waits for it; the wall clock around the run is the time.
 */
export function tfMatmulRunner(tf: TfModule, M: number, N: number, K: number, transposeB: boolean, clock: Clock): Runner {
  const a = tf.randomNormal([M, K], 0, 1, 'float32', 1);
  const b = tf.randomNormal(transposeB ? [N, K] : [K, N], 0, 1, 'float32', 2);
  const byGpuClock = async () => {
    // tidy disposes the product once recorded; tfjs frees its buffer when the GPU is done with it.
    const timing = await tf.time(() => tf.tidy(() => void tf.matMul(a, b, false, transposeB)));
    if (typeof timing.kernelMs !== 'number') throw new Error(`tf.time gave no kernel time: ${timing.kernelMs.error}`);
    return timing.kernelMs;
  };
  const byWallClock = async () => {
    const c = tf.matMul(a, b, false, transposeB);
    await c.data();
    c.dispose();
  };
  return {
    run: clock === 'gpu-timestamps' ? byGpuClock : byWallClock,
    dispose: () => {
      a.dispose();
      b.dispose();
    },
  };
}

/**
 * GPT-2 (pre-LayerNorm, fused QKV, causal attention, tanh GELU, tied LM head)
 * as a tfjs user would write it: weights as tf.variables in tfjs's (in, out)
 * layout, tf ops throughout, tf.train.adam over every variable. tfjs has no
 * AdamW; Adam does the same work per parameter but for the decay.
 */
export class TfjsGpt {
  private readonly vars: Tf.Variable[] = [];
  private readonly w = new Map<string, Tf.Variable>();
  private readonly mask: Tf.Tensor;
  private readonly positions: Tf.Tensor;
  private readonly optimizer: Tf.Optimizer;

  constructor(
    private readonly tf: TfModule,
    private readonly config: GPTConfig,
    private readonly B: number,
    private readonly T: number,
    lr = 3e-4,
  ) {
    const { nLayer: L, nEmbd: C, nPositions: P, vocabSize: V } = config;
    let seed = 1;
    const normal = (name: string, shape: number[], std: number) => this.add(name, tf.randomNormal(shape, 0, std, 'float32', seed++));
    const constant = (name: string, shape: number[], value: number) => this.add(name, tf.fill(shape, value));
    normal('wte', [V, C], 0.02);
    normal('wpe', [P, C], 0.02);
    const projStd = 0.02 / Math.sqrt(2 * L);
    for (let l = 0; l < L; l++) {
      constant(`${l}.ln1.w`, [C], 1);
      constant(`${l}.ln1.b`, [C], 0);
      normal(`${l}.attn.w`, [C, 3 * C], 0.02);
      constant(`${l}.attn.b`, [3 * C], 0);
      normal(`${l}.proj.w`, [C, C], projStd);
      constant(`${l}.proj.b`, [C], 0);
      constant(`${l}.ln2.w`, [C], 1);
      constant(`${l}.ln2.b`, [C], 0);
      normal(`${l}.fc.w`, [C, 4 * C], 0.02);
      constant(`${l}.fc.b`, [4 * C], 0);
      normal(`${l}.fcproj.w`, [4 * C, C], projStd);
      constant(`${l}.fcproj.b`, [C], 0);
    }
    constant('lnf.w', [C], 1);
    constant('lnf.b', [C], 0);
    // Causal mask added to the scores: 0 on and below the diagonal, -1e9 above.
    this.mask = tf.tidy(() => tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9));
    this.positions = tf.range(0, T, 1, 'int32');
    this.optimizer = tf.train.adam(lr, 0.9, 0.95, 1e-8);
  }

  /** One training step (forward, backward, Adam); resolves to the loss once it is read back. */
  async trainStep(tokens: Int32Array, targets: Int32Array): Promise<number> {
    const tf = this.tf;
    const tok = tf.tensor2d(tokens, [this.B, this.T], 'int32');
    const tgt = tf.tensor1d(targets, 'int32');
    const loss = this.optimizer.minimize(() => this.loss(tok, tgt), true, this.vars) as Tf.Scalar;
    const value = (await loss.data())[0]!;
    loss.dispose();
    tok.dispose();
    tgt.dispose();
    return value;
  }

  dispose(): void {
    this.optimizer.dispose();
    for (const v of this.vars) v.dispose();
    this.mask.dispose();
    this.positions.dispose();
  }

  private add(name: string, init: Tf.Tensor): Tf.Variable {
    const v = this.tf.variable(init, true, name);
    init.dispose();
    this.vars.push(v);
    this.w.set(name, v);
    return v;
  }

  private p(name: string): Tf.Variable {
    return this.w.get(name)!;
  }

  private loss(tokens: Tf.Tensor2D, targets: Tf.Tensor1D): Tf.Scalar {
    const tf = this.tf;
    const { nLayer: L, nHead: NH, nEmbd: C, vocabSize: V } = this.config;
    const { B, T } = this;
    const HS = C / NH;
    const layerNorm = (x: Tf.Tensor, name: string) => {
      const { mean, variance } = tf.moments(x, -1, true);
      return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), this.p(`${name}.w`)), this.p(`${name}.b`));
    };
    const linear = (x: Tf.Tensor, name: string) => tf.add(tf.matMul(x as Tf.Tensor2D, this.p(`${name}.w`) as Tf.Tensor2D), this.p(`${name}.b`));
    const gelu = (x: Tf.Tensor) =>
      tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))));

    let x: Tf.Tensor = tf.reshape(tf.add(tf.gather(this.p('wte'), tokens), tf.gather(this.p('wpe'), this.positions)), [B * T, C]);
    for (let l = 0; l < L; l++) {
      const qkv = tf.transpose(tf.reshape(linear(layerNorm(x, `${l}.ln1`), `${l}.attn`), [B, T, 3, NH, HS]), [2, 0, 3, 1, 4]);
      const [q, k, v] = tf.unstack(qkv) as [Tf.Tensor4D, Tf.Tensor4D, Tf.Tensor4D]; // (B,NH,T,HS)
      const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(HS)), this.mask);
      const y = tf.reshape(tf.transpose(tf.matMul(tf.softmax(scores), v), [0, 2, 1, 3]), [B * T, C]);
      x = tf.add(x, linear(y, `${l}.proj`));
      x = tf.add(x, linear(gelu(linear(layerNorm(x, `${l}.ln2`), `${l}.fc`)), `${l}.fcproj`));
    }
    const logits = tf.matMul(layerNorm(x, 'lnf') as Tf.Tensor2D, this.p('wte') as Tf.Tensor2D, false, true);
    return tf.losses.softmaxCrossEntropy(tf.oneHot(targets, V), logits) as Tf.Scalar;
  }
}
