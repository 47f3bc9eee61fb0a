/**
 * Runs in the browser (kernels.test.ts builds and drives it): every check of
 * CHECKS, on the page's WebGPU adapter (SwiftShader in headless Chromium),
 * against the CPU references of src/reference/, reported through
 * window.__kernelsReport. Imports only browser-safe library code: the build
 * fails on a Node-only module.
 */
import fixtureUrl from '../../fixtures/gpt2_tiny.safetensors?url';
import type { Binding } from '../../../src/gpu/buffers.ts';
import { requestGpu } from '../../../src/gpu/device.ts';
import type { Gpu } from '../../../src/gpu/gpu.ts';
import { Recorder } from '../../../src/gpu/recorder.ts';
import { configFromHF, paramsFromHF } from '../../../src/io/hf-gpt2.ts';
import { parseSafetensors, tensorToFloat32, tensorToInt32, type SafeTensor } from '../../../src/io/safetensors.ts';
import { layernormBackward, layernormForward } from '../../../src/kernels/layernorm.ts';
import { BLOCKED_TILES, blockedTileFits, gemm, matmulBackwardBias, setMatmulVariants, skinnySuits, variantSupported } from '../../../src/kernels/matmul.ts';
import { setReductionVariant } from '../../../src/kernels/reduction.ts';
import type { GPTConfig } from '../../../src/model/config.ts';
import { GPT } from '../../../src/model/gpt.ts';
import * as ref from '../../../src/reference/index.ts';
import { Rng } from '../../../src/reference/random.ts';
import { CHECKS, TILE_NAMES, type CheckResult, type CheckSpec, type Comparison } from './checks.ts';

/** Entry points dispatched while a check runs, from every Recorder (the model makes its own). */
let ran = new Set<string>();
const dispatch = Recorder.prototype.dispatch;
Recorder.prototype.dispatch = function (this: Recorder, name, pipeline, ...rest) {
  ran.add(pipeline.label.split(':')[1]!);
  return dispatch.call(this, name, pipeline, ...rest);
};

class Skip extends Error {}

function randn(rng: Rng, n: number, std = 1): Float32Array {
  return rng.fillRandn(new Float32Array(n), std);
}

async function record(gpu: Gpu, fn: (rec: Recorder) => void): Promise<void> {
  const rec = new Recorder(gpu);
  fn(rec);
  rec.submit();
  await gpu.idle();
}

/** Every element within atol + rtol |want|, as test/helpers.ts's expectClose: the worst element, as excess over the tolerance. */
function compare(output: string, got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number): Comparison {
  if (got.length !== want.length) return { output, excess: Infinity, maxAbsErr: Infinity, detail: `${got.length} elements, expected ${want.length}` };
  let worst = 0;
  let excess = 0;
  let maxAbsErr = 0;
  for (let i = 0; i < want.length; i++) {
    const diff = Math.abs(got[i]! - want[i]!);
    const e = Number.isNaN(diff) ? Infinity : diff / (atol + rtol * Math.abs(want[i]!));
    maxAbsErr = Math.max(maxAbsErr, Number.isNaN(diff) ? Infinity : diff);
    if (e > excess) [excess, worst] = [e, i];
  }
  const detail = `element ${worst} is ${got[worst]}, expected ${want[worst]} (|diff| ${Math.abs(got[worst]! - want[worst]!)} vs atol ${atol} + rtol ${rtol} * |expected|; max |diff| ${maxAbsErr})`;
  return { output, excess, maxAbsErr, detail };
}

/** Whole-tensor relative error (max |diff| / max |want|), as the Node tests compare the model: excess = error / tol. */
function compareRelative(output: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: number): Comparison {
  if (got.length !== want.length) return { output, excess: Infinity, maxAbsErr: Infinity, detail: `${got.length} elements, expected ${want.length}` };
  let maxAbsErr = 0;
  let maxRef = 0;
  for (let i = 0; i < want.length; i++) {
    const diff = Math.abs(got[i]! - want[i]!);
    maxAbsErr = Math.max(maxAbsErr, Number.isNaN(diff) ? Infinity : diff);
    maxRef = Math.max(maxRef, Math.abs(want[i]!));
  }
  const error = maxAbsErr / Math.max(maxRef, 1e-30);
  return { output, excess: error / tol, maxAbsErr, detail: `relative error ${error} (limit ${tol})` };
}

/** (rows, cols) row-major to (cols, rows), rows ld apart from `offset`. */
function transposed(x: Float32Array, rows: number, cols: number, ld: number, offset: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[offset + r * ld + c]!;
  return out;
}

/** (rows, cols) packed row-major out of a matrix whose rows are ld apart from `offset`. */
function packed(x: Float32Array, rows: number, cols: number, ld: number, offset: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) out.set(x.subarray(offset + r * ld, offset + r * ld + cols), r * cols);
  return out;
}

/** C(M,N) += A B + bias (and gelu(C)) through gemm's blocked variant, against ref.matmulForward. */
async function checkGemm(gpu: Gpu, spec: Extract<CheckSpec, { kind: 'gemm' }>): Promise<Comparison[]> {
  if (!variantSupported(gpu, 'blocked')) throw new Skip(`${gpu.name} cannot run the blocked variant (no tile fits its workgroups)`);
  const plan = spec.tile === undefined ? undefined : { tile: BLOCKED_TILES[spec.tile]!, splits: spec.splits ?? 1 };
  if (plan && !blockedTileFits(gpu, plan.tile)) {
    const t = plan.tile;
    throw new Skip(
      `the ${TILE_NAMES[spec.tile!]} tile needs ${t.wgX * t.wgY} invocations and ${t.bk * (2 * t.wgX + 2 * t.wgY + 2) * 16} bytes of workgroup memory; ` +
        `${gpu.name} allows ${gpu.device.limits.maxComputeInvocationsPerWorkgroup} and ${gpu.device.limits.maxComputeWorkgroupStorageSize}`,
    );
  }
  const out: Comparison[] = [];
  for (const [M, N, K] of spec.shapes) {
    const { ta, tb } = spec;
    if (!plan && !skinnySuits({ binding: null as never, ld: K, transposed: ta }, M)) throw new Error(`M=${M} does not take matmul_skinny`);
    const rng = new Rng(M * 5 + N * 3 + K + (ta ? 1 : 0) + (tb ? 10 : 0));
    // A stored (M,K) or (K,M), B stored (K,N) or (N,K); odd leading dimensions whose padding holds garbage, and offsets.
    const [aRows, aCols] = ta ? [K, M] : [M, K];
    const [bRows, bCols] = tb ? [N, K] : [K, N];
    const [lda, ldb, offA, offB] = [aCols + 3, bCols + 1, 5, 2];
    const a = randn(rng, offA + aRows * lda);
    const b = randn(rng, offB + bRows * ldb);
    const c0 = randn(rng, M * N);
    const bias = randn(rng, N);
    const c = gpu.createBufferFrom('c', c0);
    const act = gpu.createBufferFrom('act', randn(rng, M * N)); // garbage: must be overwritten
    await record(gpu, (rec) =>
      gemm(
        rec,
        { binding: c, ld: N },
        { binding: gpu.createBufferFrom('a', a), ld: lda, offset: offA, transposed: ta },
        { binding: gpu.createBufferFrom('b', b), ld: ldb, offset: offB, transposed: tb },
        M,
        N,
        K,
        { accumulate: true, bias: gpu.createBufferFrom('bias', bias), geluOut: spec.gelu ? act : null, variant: 'blocked', blocked: plan },
      ),
    );
    // The reference's inp (M,K) and weight (N,K).
    const inp = ta ? transposed(a, K, M, lda, offA) : packed(a, M, K, lda, offA);
    const weight = tb ? packed(b, N, K, ldb, offB) : transposed(b, K, N, ldb, offB);
    const product = new Float32Array(M * N);
    ref.matmulForward(product, inp, weight, bias, M, K, N);
    const want = c0.map((v, i) => v + product[i]!);
    // f32 rounding of a sum of K products grows like sqrt(K).
    const atol = 1e-5 * Math.max(1, Math.sqrt(K / 32));
    out.push(compare(`C (M=${M} N=${N} K=${K})`, await gpu.readF32(c, 0, M * N), want, 1e-5, atol));
    if (spec.gelu) {
      const wantAct = new Float32Array(M * N);
      ref.geluForward(wantAct, want, M * N);
      out.push(compare(`gelu(C) (M=${M} N=${N} K=${K})`, await gpu.readF32(act, 0, M * N), wantAct, 1e-5, atol));
    }
  }
  return out;
}

/** dbias(N) += column sums of dout, against the sums in f64 (ref.matmulBackward's, which also computes dinp and dweight). */
async function checkBias(gpu: Gpu, spec: Extract<CheckSpec, { kind: 'bias' }>): Promise<Comparison[]> {
  const { M, N } = spec;
  const [ld, offset] = [spec.ld ?? N, spec.offset ?? 0];
  const rng = new Rng(M * 13 + N);
  const dout = randn(rng, offset + M * ld);
  const dbias0 = randn(rng, N);
  const dbias = gpu.createBufferFrom('dbias', dbias0);
  await record(gpu, (rec) => matmulBackwardBias(rec, dbias, { binding: gpu.createBufferFrom('dout', dout), ld, offset }, M, N, 'gpu'));
  const want = dbias0.slice();
  const K = 1;
  ref.matmulBackward(new Float32Array(M * K), new Float32Array(N * K), want, packed(dout, M, N, ld, offset), new Float32Array(M * K), new Float32Array(N * K), M, K, N);
  // Sums of M terms near 1.
  return [compare('dbias', await gpu.readF32(dbias, 0, N), want, 1e-5, 1e-5 * Math.sqrt(M))];
}

async function checkLayernorm(gpu: Gpu, spec: Extract<CheckSpec, { kind: 'layernorm' }>): Promise<Comparison[]> {
  const { N, C, residual } = spec;
  const rng = new Rng((residual ? 3 : 4) + 7 * N + C);
  const inp = randn(rng, N * C, 2).map((v) => v + 5); // an offset mean tests the centring
  const [weight, bias] = [randn(rng, C, 0.3), randn(rng, C, 0.3)];
  const [dout, dres] = [randn(rng, N * C), randn(rng, N * C)];
  const [dweight0, dbias0] = [randn(rng, C), randn(rng, C)];
  const up = (label: string, x: Float32Array) => gpu.createBufferFrom(label, x);
  const zeros = (label: string, n: number) => up(label, new Float32Array(n));
  const [out, mean, rstd] = [zeros('out', N * C), zeros('mean', N), zeros('rstd', N)];
  const dinp = up('dinp', randn(rng, N * C)); // garbage: must be overwritten
  const [dweight, dbias] = [up('dweight', dweight0), up('dbias', dbias0)];
  const [inpB, weightB] = [up('inp', inp), up('weight', weight)];
  await record(gpu, (rec) => {
    layernormForward(rec, out, mean, rstd, inpB, weightB, up('bias', bias), N, C, 'gpu');
    const dresB: Binding | null = residual ? up('dres', dres) : null;
    layernormBackward(rec, dinp, dweight, dbias, up('dout', dout), dresB, inpB, weightB, mean, rstd, N, C, 'gpu');
  });
  const [wantOut, wantMean, wantRstd] = [new Float32Array(N * C), new Float32Array(N), new Float32Array(N)];
  ref.layernormForward(wantOut, wantMean, wantRstd, inp, weight, bias, N, C);
  const [wantDinp, wantDw, wantDb] = [new Float32Array(N * C), dweight0.slice(), dbias0.slice()];
  ref.layernormBackward(wantDinp, wantDw, wantDb, dout, residual ? dres : null, inp, weight, wantMean, wantRstd, N, C);
  // test/kernels/layernorm.test.ts's tolerances.
  const [rtol, atol, sumAtol] = [1e-4, 1e-5, 1e-5 * Math.sqrt(N)];
  return [
    compare('out', await gpu.readF32(out, 0, N * C), wantOut, rtol, atol),
    compare('mean', await gpu.readF32(mean, 0, N), wantMean, rtol, atol),
    compare('rstd', await gpu.readF32(rstd, 0, N), wantRstd, rtol, atol),
    compare('dinp', await gpu.readF32(dinp, 0, N * C), wantDinp, rtol, atol),
    compare('dweight', await gpu.readF32(dweight, 0, C), wantDw, rtol, sumAtol),
    compare('dbias', await gpu.readF32(dbias, 0, C), wantDb, rtol, sumAtol),
  ];
}

/** As test/model/fixture.ts reads it (that module reads the file with node:fs). */
function paramSet(tensors: Map<string, SafeTensor>, prefix: string, config: GPTConfig): Map<string, Float32Array> {
  const picked = new Map<string, SafeTensor>();
  for (const [name, t] of tensors) {
    if (prefix ? name.startsWith(prefix) : /^(wte|wpe|h\.|ln_f)/.test(name)) picked.set(name.slice(prefix.length), t);
  }
  return paramsFromHF(picked, config, `fixture ${prefix || 'params'}`).params;
}

/** test/model/gpt2-pytorch-gpu-kernels.test.ts in the page. */
async function checkGpt(gpu: Gpu): Promise<Comparison[]> {
  if (!variantSupported(gpu, 'blocked')) throw new Skip(`${gpu.name} cannot run the blocked variant (no tile fits its workgroups)`);
  const response = await fetch(fixtureUrl);
  if (!response.ok) throw new Error(`fixture: ${response.status} ${response.statusText}`);
  const { tensors, metadata } = parseSafetensors(await response.arrayBuffer(), 'gpt2_tiny.safetensors');
  const config = configFromHF(JSON.parse(metadata.config!), 'fixture config');
  const { B, T } = JSON.parse(metadata.batch!) as { B: number; T: number };
  setMatmulVariants(gpu, { NN: 'blocked', NT: 'blocked', TN: 'blocked', TT: 'blocked' });
  setReductionVariant(gpu, 'gpu');
  const model = new GPT(gpu, config, B, T);
  try {
    model.setParameters(paramSet(tensors, '', config));
    const batch = { tokens: tensorToInt32(tensors.get('x')!, 'x'), targets: tensorToInt32(tensors.get('y')!, 'y') };
    // gpt2-pytorch.test.ts's tolerances.
    const out = [compareRelative('logits', await model.logits(batch), tensorToFloat32(tensors.get('logits')!, 'logits'), 1e-5)];
    const loss = await model.backward(batch);
    out.push(compare('loss', [loss], tensorToFloat32(tensors.get('loss')!, 'loss'), 0, 1e-5));
    const grads = await model.getGradients();
    for (const [name, want] of paramSet(tensors, 'grad.', config)) {
      const got = grads.get(name);
      out.push(got ? compareRelative(`gradient of ${name}`, got, want, 1e-4) : { output: `gradient of ${name}`, excess: Infinity, maxAbsErr: Infinity, detail: 'missing' });
    }
    return out;
  } finally {
    model.destroy();
    setMatmulVariants(gpu, {});
    setReductionVariant(gpu, undefined);
  }
}

function runCheck(gpu: Gpu, spec: CheckSpec): Promise<Comparison[]> {
  switch (spec.kind) {
    case 'gemm':
      return checkGemm(gpu, spec);
    case 'bias':
      return checkBias(gpu, spec);
    case 'layernorm':
      return checkLayernorm(gpu, spec);
    case 'gpt':
      return checkGpt(gpu);
  }
}

async function main(): Promise<void> {
  const log = document.getElementById('log')!;
  const report = (window.__kernelsReport = { adapter: '', features: [], results: [], done: false } as NonNullable<Window['__kernelsReport']>);
  try {
    const gpu = await requestGpu();
    report.adapter = gpu.name;
    report.features = [...gpu.device.features].sort();
    const tiles = BLOCKED_TILES.map((t) => `${8 * t.wgY}x${8 * t.wgX}`);
    if (tiles.join() !== TILE_NAMES.join()) throw new Error(`BLOCKED_TILES are ${tiles.join(', ')}; checks.ts names ${TILE_NAMES.join(', ')}`);
    for (const check of CHECKS) {
      ran = new Set();
      const started = performance.now();
      const result: CheckResult = { comparisons: [], ran: [], ms: 0 };
      try {
        result.comparisons = await runCheck(gpu, check.spec);
      } catch (e) {
        if (e instanceof Skip) result.skipped = e.message;
        else result.error = e instanceof Error ? (e.stack ?? e.message) : String(e);
      }
      result.ran = [...ran].sort();
      result.ms = performance.now() - started;
      report.results.push(result);
      log.textContent = report.results.map((r, i) => `${CHECKS[i]!.kernel} ${CHECKS[i]!.shape}: ${r.skipped ? 'skipped' : r.error ? 'error' : Math.max(0, ...r.comparisons.map((c) => c.excess)).toPrecision(3)}`).join('\n');
    }
  } catch (e) {
    report.fatal = e instanceof Error ? (e.stack ?? e.message) : String(e);
  }
  report.done = true;
}

void main();
