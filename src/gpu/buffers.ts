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

/**
 * A window of `count` f32/i32 elements starting at element `first` of a
 * buffer, or of a window (a window within a window: a slice of a tensor that
 * lives in an arena).
 */
export function window(b: Binding, first: number, count: number): BufferWindow {
  return isWindow(b)
    ? { buffer: b.buffer, offset: b.offset + first * F32, size: count * F32 }
    : { buffer: b, offset: first * F32, size: count * F32 };
}

/** Byte offset of a binding within its buffer. */
export function offsetOf(b: Binding): number {
  return isWindow(b) ? b.offset : 0;
}

/**
 * Places tensors of the given element counts one after another in as few
 * buffers (arenas) of at most `maxBufferBytes` as the order allows, each
 * tensor starting at a multiple of `alignBytes` so that it can be bound as a
 * window of its own. Returns each tensor's arena and first element, and each
 * arena's length in elements (a multiple of the alignment).
 */
export function arenaLayout(
  sizes: readonly number[],
  alignBytes: number,
  maxBufferBytes: number,
): { places: { arena: number; first: number }[]; lengths: number[] } {
  const align = alignBytes / F32;
  const places: { arena: number; first: number }[] = [];
  const lengths: number[] = [];
  let used = 0;
  for (const size of sizes) {
    const padded = Math.ceil(Math.max(size, 1) / align) * align;
    if (padded * F32 > maxBufferBytes) {
      throw new Error(`a tensor of ${size} elements is more than this adapter's maxBufferSize (${maxBufferBytes} bytes)`);
    }
    if (lengths.length === 0 || (used + padded) * F32 > maxBufferBytes) {
      lengths.push(0);
      used = 0;
    }
    places.push({ arena: lengths.length - 1, first: used });
    used += padded;
    lengths[lengths.length - 1] = used;
  }
  return { places, lengths };
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
