/**
 * A binding is a whole buffer or a window of one. Windows are how tensors larger
 * than one storage binding are split: the buffer holds the whole tensor, each
 * dispatch binds a slice that fits the device's limit.
 */
export interface BufferWindow {
  buffer: GPUBuffer;
  /** bytes; a multiple of the device's storage offset alignment */
  offset: number;
  /** bytes */
  size: number;
}

export type Binding = GPUBuffer | BufferWindow;

export const F32 = 4;


export function isWindow(b: Binding): b is BufferWindow {
  return (b as BufferWindow).buffer !== undefined;
}

export function bufferOf(b: Binding): GPUBuffer {
  return isWindow(b) ? b.buffer : b;
}

/** A window of `count` f32/i32 elements starting at element `first`. */
export function window(buffer: GPUBuffer, first: number, count: number): BufferWindow {
  return { buffer, offset: first * F32, size: count * F32 };
}

/**
 * Splits `rows` rows of `rowElems` elements each into chunks whose bytes fit in
 * `maxBytes` and whose byte offsets are multiples of `alignBytes`. Returns the
 * first row of each chunk and its row count.
 */
export function rowChunks(
  rows: number,
  rowElems: number,
  maxBytes: number,
  alignBytes: number,
): { first: number; count: number }[] {
  const rowBytes = rowElems * F32;
  if (rows * rowBytes <= maxBytes) return [{ first: 0, count: rows }];
  // Rows per chunk must keep every chunk start aligned: a multiple of alignBytes / gcd(rowBytes, alignBytes).
  const step = alignBytes / gcd(rowBytes, alignBytes);
  const fit = Math.floor(maxBytes / rowBytes);
  const per = Math.floor(fit / step) * step;
  if (per === 0) {
    throw new Error(
      `cannot split a tensor of ${rows} rows x ${rowElems} elements into bindings of at most ${maxBytes} bytes ` +
        `aligned to ${alignBytes} bytes: one aligned chunk of ${step} rows needs ${step * rowBytes} bytes`,
    );
  }
  const chunks = [];
  for (let first = 0; first < rows; first += per) chunks.push({ first, count: Math.min(per, rows - first) });
  return chunks;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
