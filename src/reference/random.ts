// Seeded pseudo-random numbers for tests and fixtures. The generator is
// run-time code too (parameter init, shuffles), so it lives in src/data/random.ts.
export { Rng, mulberry32 } from '../data/random.ts';
