import { afterEach, expect, it, vi } from 'vitest';
import { throttleDawnPolling } from '../../src/gpu/dawn-polling.ts';

afterEach(() => vi.restoreAllMocks());

it("sends native callbacks (Dawn's polls) through setTimeout and leaves JavaScript ones to setImmediate", async () => {
  throttleDawnPolling();
  const timeout = vi.spyOn(globalThis, 'setTimeout');

  const native = Number.isFinite; // any native function stands in for Dawn's poll
  setImmediate(native, 1);
  expect(timeout).toHaveBeenCalledWith(native, 0, 1);

  const order: string[] = [];
  let jsCallback: ((tag: string) => void) | undefined;
  await new Promise<void>((resolve) => {
    setTimeout(() => order.push('timer'), 5);
    jsCallback = (tag) => {
      order.push(tag);
      resolve();
    };
    setImmediate(jsCallback, 'immediate');
  });
  // The JavaScript callback ran as an immediate, before a 5 ms timer, with its argument.
  expect(order).toEqual(['immediate']);
  expect(timeout.mock.calls.some(([fn]) => (fn as unknown) === jsCallback)).toBe(false);
});
