// The CPU spec of shaders/sampling.wgsl. The sampler itself is run-time code
// (Generator's kvCache: false path uses it), so it lives in
// src/kernels/sampling-cpu.ts; the tests take it from here as the spec.
export * from '../kernels/sampling-cpu.ts';
