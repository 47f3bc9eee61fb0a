/**
 * The safetensors format (https://github.com/huggingface/safetensors): a u64
 * little-endian header length N, N bytes of UTF-8 JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {..}}`,
 * then the data section, which the offsets index from its start.
 *
 * Browser-safe: works on bytes only; reading and writing files is the caller's.
 * Multi-byte values are little-endian in the format and are copied as raw bytes
 * into typed arrays: that assumes a little-endian host, as WebGPU itself does.
 */

export const BYTES_PER_ELEMENT = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  U16: 2,
  I16: 2,
  F16: 2,
  BF16: 2,
  U32: 4,
  I32: 4,
  F32: 4,
  U64: 8,
  I64: 8,
  F64: 8,
} as const;

export type DType = keyof typeof BYTES_PER_ELEMENT;

export interface SafeTensor {
  dtype: DType;
  shape: number[];
  /** a view into the file's bytes (not necessarily aligned for its dtype) */
  data: Uint8Array;
}

export interface ParsedSafetensors {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

const METADATA_KEY = '__metadata__';

function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.hasOwn(BYTES_PER_ELEMENT, s);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isNonNegativeInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function fmtShape(shape: readonly unknown[]): string {
  return `[${shape.join(',')}]`;
}

export function parseSafetensors(bytes: ArrayBuffer | Uint8Array, source = 'safetensors data'): ParsedSafetensors {
  // A plain Uint8Array even when given a subclass (Node's Buffer), so the
  // tensor views handed out behave the same everywhere.
  const file =
    bytes instanceof Uint8Array ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : new Uint8Array(bytes);
  const fail = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };

  if (file.byteLength < 8) {
    fail(`truncated or not a safetensors file: ${file.byteLength} bytes, fewer than the 8-byte header length`);
  }
  // Read as a BigInt: a corrupt length can exceed 2^53 and must not wrap.
  const headerLen = new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true);
  if (headerLen > BigInt(file.byteLength - 8)) {
    fail(`truncated: the header length is ${headerLen} bytes but only ${file.byteLength - 8} follow it`);
  }
  const dataStart = 8 + Number(headerLen);
  const dataLen = file.byteLength - dataStart;

  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(file.subarray(8, dataStart));
    header = JSON.parse(text);
  } catch (e) {
    fail(`the header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(header)) fail('the header is not a JSON object');
  const entries = header as Record<string, unknown>;

  const metadata: Record<string, string> = {};
  const rawMeta = entries[METADATA_KEY];
  if (rawMeta !== undefined) {
    if (!isPlainObject(rawMeta)) fail(`${METADATA_KEY} must be an object of strings`);
    for (const [k, v] of Object.entries(rawMeta as Record<string, unknown>)) {
      if (typeof v !== 'string') fail(`${METADATA_KEY}.${k} must be a string, got ${JSON.stringify(v)}`);
      metadata[k] = v as string;
    }
  }

  const tensors = new Map<string, SafeTensor>();
  const spans: { name: string; begin: number; end: number }[] = [];
  for (const [name, info] of Object.entries(entries)) {
    if (name === METADATA_KEY) continue;
    const bad = (msg: string): never => fail(`tensor ${name}: ${msg}`);
    if (!isPlainObject(info)) bad('entry is not an object');
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;

    if (dtype === undefined) bad('missing dtype');
    if (!isDType(dtype)) bad(`unknown dtype ${JSON.stringify(dtype)}`);
    const dt = dtype as DType;
    if (!Array.isArray(shape) || !shape.every(isNonNegativeInt)) {
      bad(`shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const dims = shape as number[];
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInt)) {
      bad(`data_offsets must be [begin, end] with non-negative integers, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) bad(`data_offsets [${begin},${end}] are out of order`);
    if (end > dataLen) {
      fail(`truncated: tensor ${name} needs bytes [${begin},${end}) but the data section has only ${dataLen}`);
    }
    const expected = product(dims) * BYTES_PER_ELEMENT[dt];
    if (end - begin !== expected) {
      bad(`${end - begin} bytes of data, but ${dt} ${fmtShape(dims)} needs ${expected}`);
    }

    spans.push({ name, begin, end });
    tensors.set(name, { dtype: dt, shape: dims, data: file.subarray(dataStart + begin, dataStart + end) });
  }

  // Empty tensors occupy no bytes, so they cannot overlap anything.
  const occupied = spans.filter((s) => s.end > s.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < occupied.length; i++) {
    const prev = occupied[i - 1]!;
    const cur = occupied[i]!;
    if (cur.begin < prev.end) {
      fail(
        `tensors ${prev.name} [${prev.begin},${prev.end}) and ${cur.name} [${cur.begin},${cur.end}) overlap`,
      );
    }
  }

  return { tensors, metadata };
}

function elementCount(t: SafeTensor, name: string): number {
  const n = t.data.byteLength / BYTES_PER_ELEMENT[t.dtype];
  if (!Number.isInteger(n) || n !== product(t.shape)) {
    throw new Error(`tensor ${name}: ${t.data.byteLength} bytes do not hold ${t.dtype} ${fmtShape(t.shape)}`);
  }
  return n;
}

/** Copies into a fresh (aligned) array: `t.data` may sit at any byte offset. */
function copyBytes<T extends Float32Array | Int32Array>(out: T, src: Uint8Array): T {
  new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(src);
  return out;
}

/** f16 bits to f32 bits; subnormal halves are normal in f32, so exact. */
function halfToFloatBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return sign | 0x7f800000 | (mant << 13); // inf / NaN (payload kept)
  if (exp !== 0) return sign | ((exp + 127 - 15) << 23) | (mant << 13);
  if (mant === 0) return sign;
  // Subnormal: shift the mantissa up to an implicit leading 1, lowering the exponent.
  let e = 127 - 15 + 1;
  let m = mant;
  while ((m & 0x400) === 0) {
    m <<= 1;
    e--;
  }
  return sign | (e << 23) | ((m & 0x3ff) << 13);
}

/** F32 copied, F16 and BF16 widened exactly; any other dtype is an error. */
export function tensorToFloat32(t: SafeTensor, name: string): Float32Array {
  const n = elementCount(t, name);
  const d = t.data;
  switch (t.dtype) {
    case 'F32':
      return copyBytes(new Float32Array(n), d);
    case 'F16': {
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = halfToFloatBits(d[2 * i]! | (d[2 * i + 1]! << 8));
      return new Float32Array(bits.buffer);
    }
    case 'BF16': {
      // bf16 is the top half of an f32.
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = ((d[2 * i]! << 16) | (d[2 * i + 1]! << 24)) >>> 0;
      return new Float32Array(bits.buffer);
    }
    default:
      throw new Error(`tensor ${name}: dtype ${t.dtype} cannot be read as float32 (expected F32, F16 or BF16)`);
  }
}

/** I32 copied; I64 narrowed, an error if a value does not fit in 32 bits. */
export function tensorToInt32(t: SafeTensor, name: string): Int32Array {
  const n = elementCount(t, name);
  switch (t.dtype) {
    case 'I32':
      return copyBytes(new Int32Array(n), t.data);
    case 'I64': {
      const view = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = view.getBigInt64(8 * i, true);
        if (v < -0x80000000n || v > 0x7fffffffn) {
          throw new Error(`tensor ${name}: I64 value ${v} at index ${i} does not fit in int32`);
        }
        out[i] = Number(v);
      }
      return out;
    }
    default:
      throw new Error(`tensor ${name}: dtype ${t.dtype} cannot be read as int32 (expected I32 or I64)`);
  }
}

export interface TensorToWrite {
  dtype: 'F32' | 'I32';
  shape: readonly number[];
  data: Float32Array | Int32Array;
}

/**
 * Tensors are stored contiguously in the given order. The header is padded with
 * spaces (valid JSON whitespace) so the data section starts at a multiple of 8,
 * as the reference implementation does, letting readers map it without copies.
 */
export function serializeSafetensors(
  tensors: Iterable<[string, TensorToWrite]>,
  metadata?: Record<string, string>,
): Uint8Array {
  // No prototype: a tensor named "__proto__" must become a key, not a prototype.
  const header: Record<string, unknown> = Object.create(null);
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`safetensors metadata ${k} must be a string`);
    }
    header[METADATA_KEY] = metadata;
  }

  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === METADATA_KEY || Object.hasOwn(header, name)) {
      throw new Error(`safetensors: duplicate or reserved tensor name ${name}`);
    }
    const wantArray = t.dtype === 'F32' ? Float32Array : t.dtype === 'I32' ? Int32Array : undefined;
    if (wantArray === undefined || !(t.data instanceof wantArray)) {
      throw new Error(`tensor ${name}: dtype ${t.dtype} does not match its ${t.data.constructor.name} data`);
    }
    if (!t.shape.every(isNonNegativeInt)) {
      throw new Error(`tensor ${name}: shape must be a list of non-negative integers, got ${fmtShape(t.shape)}`);
    }
    if (t.data.length !== product(t.shape)) {
      throw new Error(`tensor ${name}: ${t.data.length} elements, but shape ${fmtShape(t.shape)} needs ${product(t.shape)}`);
    }
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + t.data.byteLength] };
    blobs.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    offset += t.data.byteLength;
  }

  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLen = json.byteLength + ((8 - ((8 + json.byteLength) % 8)) % 8);
  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength, 8 + headerLen);
  let pos = 8 + headerLen;
  for (const blob of blobs) {
    out.set(blob, pos);
    pos += blob.byteLength;
  }
  return out;
}
