// Next-token choice, the CPU spec of shaders/sampling.wgsl: greedy, or a
// seeded draw at a temperature within the top k tokens and then the nucleus
// of top-p mass. The same counter-based hash gives the same uniform draw as
// the GPU, so choices agree except where rounding puts the draw on a boundary.

/** PCG hash (O'Neill), as in the shader. */
export function pcg(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** Uniform in [0,1) for (seed, position, row). */
export function uniform01(seed: number, pos: number, row: number): number {
  const h = pcg((pcg((pcg(seed) ^ pos) >>> 0) ^ row) >>> 0);
  return (h >>> 8) / 16777216;
}

export interface SampleSettings {
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
}

export function sampleRow(
  logits: ArrayLike<number>,
  s: SampleSettings,
  pos: number,
  row: number,
): { token: number; logprob: number } {
  const V = logits.length;
  const greedy = s.temperature <= 0;
  const z = Array.from({ length: V }, (_, v) => (greedy ? logits[v]! : logits[v]! / s.temperature));
  const zmax = Math.max(...z);
  const total = z.reduce((a, x) => a + Math.exp(x - zmax), 0);
  const logprob = (t: number) => z[t]! - zmax - Math.log(total);
  if (greedy) {
    const token = z.indexOf(zmax);
    return { token, logprob: logprob(token) };
  }
  let threshold = -Infinity;
  const sorted = [...z].sort((a, b) => b - a);
  if (s.topK > 0 && s.topK < V) threshold = sorted[s.topK - 1]!;
  if (s.topP < 1) {
    const kept = sorted.filter((x) => x >= threshold);
    const keptMass = kept.reduce((a, x) => a + Math.exp(x - zmax), 0);
    let mass = 0;
    for (const x of kept) {
      mass += Math.exp(x - zmax);
      if (mass >= s.topP * keptMass) {
        threshold = x;
        break;
      }
    }
  }
  const weights = z.map((x) => (x >= threshold ? Math.exp(x - zmax) : 0));
  const goal = uniform01(s.seed, pos, row) * weights.reduce((a, b) => a + b, 0);
  let acc = 0;
  let token = -1;
  for (let v = 0; v < V; v++) {
    if (weights[v]! > 0) {
      token = v;
      acc += weights[v]!;
      if (acc > goal) break;
    }
  }
  return { token, logprob: logprob(token) };
}
