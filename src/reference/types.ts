// Shared types and helpers for the CPU reference kernels.
//
// The references are generic over the float array type so that the same code
// is the f32 spec the GPU kernels are compared against and, run in f64, the
// function that finite differences check.

export type Vec = Float32Array | Float64Array;

/**
 * Throws unless `index` is an integer in [0, size). Token ids and targets come
 * from user data; an out-of-range id would otherwise read `undefined` from the
 * typed array and turn silently into NaN far from the cause.
 */
export function checkIndex(what: string, index: number, size: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= size) {
    throw new RangeError(`${what} ${index} is out of range [0, ${size})`);
  }
}
