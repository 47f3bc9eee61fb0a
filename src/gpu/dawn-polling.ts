/**
 * Dawn's Node binding waits for GPU work (mapAsync, onSubmittedWorkDone) by
 * polling: each poll calls `setImmediate` again with a native callback until
 * the work is done, so the JavaScript thread spins at 100% for as long as any
 * wait is pending. On a CPU adapter that spin takes a core from the
 * rasteriser's threads that run our kernels (measured on lavapipe, 2 cores: the
 * main thread burned ~150 ms of CPU per 180 ms tiny training step).
 *
 * This routes Dawn's polls, and only those (the native callbacks), through
 * `setTimeout(…, 0)`: a poll about every millisecond instead of a spin. Node
 * only; other callers of setImmediate are untouched. Set
 * WEBGPU_RLHF_DAWN_SPIN=1 to keep Dawn's own behaviour.
 */

type Immediate = (callback: (...args: unknown[]) => void, ...args: unknown[]) => unknown;

let installed = false;

function isNative(fn: unknown): boolean {
  return typeof fn === 'function' && Function.prototype.toString.call(fn).endsWith('{ [native code] }');
}

export function throttleDawnPolling(): void {
  if (installed || process.env.WEBGPU_RLHF_DAWN_SPIN === '1') return;
  installed = true;
  const g = globalThis as unknown as { setImmediate: Immediate };
  const original = g.setImmediate;
  const throttled: Immediate = (callback, ...args) =>
    isNative(callback) ? setTimeout(callback, 0, ...args) : original(callback, ...args);
  // Keeps util.promisify(setImmediate) and the like working.
  Object.assign(throttled, original);
  g.setImmediate = throttled;
}
