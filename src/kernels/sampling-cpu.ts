// Next-token choice on the CPU, the twin of shaders/sampling.wgsl. Run-time
// code, not only a spec: the launcher (sampling.ts) takes its 1/T and sequence
// rules from here, and Generator's kvCache: false path samples with it. The
// tests take it as the kernel's spec through src/reference/sampling.ts.
//
// Greedy (argmax, lowest id on ties), or a seeded draw at a temperature
// within the top k tokens and then within the nucleus of top-p mass.
//
// It repeats the kernel's arithmetic step for step: z = f32(logit * f32(1/T)),
// f32 sums in the kernel's order (64 lanes summing ids lane, lane+64, ...,
// then the lanes' partial sums in lane order), the same thresholds and the
// same counter-based hash, so it makes the same choices as the GPU from the
// same logits. Only exp and
// log may differ in their last bits between the two, which can change a choice
// only when a draw falls within rounding of a boundary.
//
// What the thresholds mean (the kernel finds them by bisection over keys):
//   top-k keeps the tokens whose z is at least the k-th largest z (ties kept);
//   top-p then keeps the tokens whose z is at least the largest t for which
//   the mass of {z >= t} is at least p times the mass top-k kept, with
//   mass = sum of exp(z - zmax): the smallest set of most probable tokens that
//   holds p of the renormalised probability (ties at the edge kept).

/** Lanes of the kernel's workgroup; its reductions' order depends on it. */
export const SAMPLING_WG = 64;
/** Bisection steps that pin a threshold among the 2^32 keys. */
const KEY_BITS = 32;

const f32 = Math.fround;

/** PCG hash (O'Neill), as in the shader. */
export function pcg(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** Uniform in [0,1) for (seed, position, row), 24 random bits (exact in f32). */
export function uniform01(seed: number, pos: number, row: number): number {
  const h = pcg((pcg((pcg(seed >>> 0) ^ pos) >>> 0) ^ row) >>> 0);
  return (h >>> 8) / 16777216;
}

const keyView = new DataView(new ArrayBuffer(4));

/** Order-preserving u32 key of an f32 value, -0 taken as +0 (key() in the shader). */
export function floatKey(z: number): number {
  if (z === 0) return 0x80000000;
  keyView.setFloat32(0, z);
  const bits = keyView.getUint32(0);
  return (bits & 0x80000000 ? ~bits : bits | 0x80000000) >>> 0;
}

/** 1/temperature rounded to f32 once, as the launcher hands it to the kernel; 1 when greedy. */
export function inverseTemperature(temperature: number): number {
  return temperature > 0 ? f32(1 / temperature) : 1;
}

/** An f32 sum over ids 0..V-1 in the kernel's order: per lane, then over the lanes in order. */
function workgroupSum(V: number, term: (v: number) => number): number {
  let total = 0;
  for (let lane = 0; lane < SAMPLING_WG; lane++) {
    let s = 0;
    for (let v = lane; v < V; v += SAMPLING_WG) s = f32(s + term(v));
    total = f32(total + s);
  }
  return total;
}

export interface SampleSettings {
  /** 0: greedy */
  temperature: number;
  /** 0: off */
  topK: number;
  /** 1: off */
  topP: number;
  seed: number;
}

/**
 * The token that follows position `pos` in row `row` of a batch, and its
 * log-probability under the full temperature-scaled distribution (at
 * temperature 1 when greedy).
 */
export function sampleRow(
  logits: ArrayLike<number>,
  s: SampleSettings,
  pos: number,
  row: number,
): { token: number; logprob: number } {
  const V = logits.length;
  const greedy = s.temperature <= 0;
  const invT = inverseTemperature(s.temperature);
  const z = new Float32Array(V);
  for (let v = 0; v < V; v++) z[v] = logits[v]! * invT;
  let best = 0;
  for (let v = 1; v < V; v++) if (z[v]! > z[best]!) best = v;
  const zmax = z[best]!;
  const w = new Float32Array(V);
  for (let v = 0; v < V; v++) w[v] = Math.exp(f32(z[v]! - zmax));
  const total = workgroupSum(V, (v) => w[v]!);
  const logprob = (t: number) => f32(f32(z[t]! - zmax) - f32(Math.log(total)));
  if (greedy) return { token: best, logprob: logprob(best) };

  const keys = new Uint32Array(V);
  for (let v = 0; v < V; v++) keys[v] = floatKey(z[v]!);
  let threshold = keys.reduce((a, k) => Math.min(a, k), 0xffffffff); // keeps everything
  if (s.topK > 0 && s.topK < V) {
    // The kernel's bisection converges to exactly the k-th largest key.
    threshold = Uint32Array.from(keys).sort().reverse()[s.topK - 1]!;
  }
  if (s.topP < 1) {
    const massFrom = (t: number) => workgroupSum(V, (v) => (keys[v]! >= t ? w[v]! : 0));
    const target = f32(f32(s.topP) * massFrom(threshold));
    // Invariant: massFrom(lo) >= target > massFrom(hi).
    let lo = threshold;
    let hi = floatKey(zmax) + 1;
    for (let it = 0; it < KEY_BITS; it++) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (massFrom(mid) >= target) lo = mid;
      else hi = mid;
    }
    threshold = lo;
  }

  // The draw: lanes own contiguous chunks of ids; find the chunk, then the token.
  const chunk = Math.ceil(V / SAMPLING_WG);
  const chunkSums = new Float32Array(SAMPLING_WG);
  for (let lane = 0; lane < SAMPLING_WG; lane++) {
    let sum = 0;
    for (let v = Math.min(lane * chunk, V); v < Math.min((lane + 1) * chunk, V); v++) sum = f32(sum + (keys[v]! >= threshold ? w[v]! : 0));
    chunkSums[lane] = sum;
  }
  let sumW = 0;
  for (const x of chunkSums) sumW = f32(sumW + x);
  const goal = f32(uniform01(s.seed, pos, row) * sumW);
  let acc = 0;
  let owner = 0;
  let before = 0;
  for (let lane = 0; lane < SAMPLING_WG; lane++) {
    const x = chunkSums[lane]!;
    if (x > 0) {
      owner = lane;
      before = acc;
      if (f32(acc + x) > goal) break;
    }
    acc = f32(acc + x);
  }
  const remaining = f32(goal - before);
  const first = Math.min(owner * chunk, V);
  let token = first;
  acc = 0;
  for (let v = first; v < Math.min(first + chunk, V); v++) {
    if (keys[v]! >= threshold) {
      token = v; // the last candidate, should rounding leave `remaining` unreached
      acc = f32(acc + w[v]!);
      if (acc > remaining) break;
    }
  }
  return { token, logprob: logprob(token) };
}

export interface SequenceRules {
  /** the end-of-sequence token; -1 for none (stop at maxNew only) */
  eos: number;
  /** the token written after a sequence is done */
  pad: number;
  /** tokens each sequence may generate */
  maxNew: number;
  /**
   * ids 0..vocab-1 may be chosen: a tokenizer's vocabulary below a padded
   * model vocabulary, whose extra ids are never sampled (default: all V)
   */
  vocab?: number;
}

/**
 * One step of the kernel as a whole: for each sequence b, the token after
 * position `pos` goes to column pos+1 of seq (B,maxT), unless that column is
 * still prompt (it stays) or the sequence is done (it gets the pad token). A
 * sequence is done after EOS or its maxNew-th token. logits are (B,V).
 */
export function sampleStep(
  seq: Int32Array,
  logprobs: Float32Array,
  done: Uint8Array,
  logits: Float32Array,
  promptLen: ArrayLike<number>,
  B: number,
  V: number,
  maxT: number,
  pos: number,
  rules: SequenceRules,
  s: SampleSettings,
): void {
  const col = pos + 1;
  for (let b = 0; b < B; b++) {
    const slot = b * maxT + col;
    const plen = promptLen[b]!;
    if (col < plen) {
      logprobs[slot] = 0;
    } else if (done[b]) {
      seq[slot] = rules.pad;
      logprobs[slot] = 0;
    } else {
      const { token, logprob } = sampleRow(logits.subarray(b * V, b * V + (rules.vocab ?? V)), s, pos, b);
      seq[slot] = token;
      logprobs[slot] = logprob;
      if (token === rules.eos || col + 1 - plen >= rules.maxNew) done[b] = 1;
    }
  }
}
