// Seeded pseudo-random numbers for parameter init, shuffles, the built-in
// task's data, tests and fixtures: reproducible across runs and platforms,
// which Math.random is not. The tests also take it through src/reference/.

/** mulberry32: a tiny 32-bit generator, uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = mulberry32(seed);
  }

  /** Uniform in [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.next();
  }

  /** Standard normal (Box–Muller; 1 - u keeps log away from 0). */
  randn(): number {
    const u1 = 1 - this.next();
    const u2 = this.next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  fillUniform<A extends Float32Array | Float64Array>(out: A, lo = -1, hi = 1): A {
    for (let i = 0; i < out.length; i++) out[i] = this.uniform(lo, hi);
    return out;
  }

  fillRandn<A extends Float32Array | Float64Array>(out: A, std = 1, mean = 0): A {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.randn();
    return out;
  }

  fillInt(out: Int32Array, n: number): Int32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.int(n);
    return out;
  }
}
