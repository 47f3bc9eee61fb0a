import { describe, it, expect } from 'vitest';
import {
  parseSafetensors,
  serializeSafetensors,
  tensorToFloat32,
  tensorToInt32,
  type SafeTensor,
  type TensorToWrite,
} from '../../src/io/safetensors.ts';

/** A file from a header (object, or raw text) and a data section, as is. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function bytesOf(a: Float32Array | Int32Array | Uint16Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

const parseErr = (bytes: Uint8Array) => () => parseSafetensors(bytes, 'bad.safetensors');

function sampleTensors(): [string, TensorToWrite][] {
  // -0, a NaN with a payload, inf and a subnormal must survive bit for bit.
  const special = new Float32Array(new Uint32Array([0x80000000, 0x7fc00123, 0x7f800000, 0x00000001, 0x3f800000]).buffer);
  return [
    ['a', { dtype: 'F32', shape: [2, 3], data: Float32Array.of(1, -2, 3.5, 1e-30, 6e30, -0.125) }],
    ['special', { dtype: 'F32', shape: [5], data: special }],
    ['ids', { dtype: 'I32', shape: [3], data: Int32Array.of(-2147483648, 0, 2147483647) }],
    ['scalar', { dtype: 'F32', shape: [], data: Float32Array.of(42) }],
    ['empty', { dtype: 'I32', shape: [0, 4], data: new Int32Array(0) }],
    ['odd', { dtype: 'F32', shape: [1], data: Float32Array.of(7) }],
  ];
}

describe('safetensors round trip', () => {
  it('serialize then parse gives the same tensors, bit for bit, and the metadata', () => {
    const tensors = sampleTensors();
    tensors.push(['__proto__', { dtype: 'F32', shape: [1], data: Float32Array.of(3) }]);
    const metadata = { format: 'pt', config: '{"n_layer": 2}', 'ünïcode': 'ok ✓' };
    const bytes = serializeSafetensors(tensors, metadata);
    const parsed = parseSafetensors(bytes, 'rt');

    expect(parsed.metadata).toEqual(metadata);
    expect([...parsed.tensors.keys()]).toEqual(tensors.map(([n]) => n));
    for (const [name, t] of tensors) {
      const got = parsed.tensors.get(name)!;
      expect(got.dtype).toBe(t.dtype);
      expect(got.shape).toEqual(t.shape);
      expect(got.data).toEqual(bytesOf(t.data));
      const back = t.dtype === 'F32' ? tensorToFloat32(got, name) : tensorToInt32(got, name);
      expect(bytesOf(back)).toEqual(bytesOf(t.data));
    }
  });

  it('pads the header with spaces so the data section starts at a multiple of 8, tensors contiguous', () => {
    for (let extra = 0; extra < 9; extra++) {
      const bytes = serializeSafetensors(sampleTensors(), { pad: 'x'.repeat(extra) });
      const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      expect((8 + n) % 8).toBe(0);
      const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
      expect(header).toMatch(/^\{.*\} *$/);
      const json = JSON.parse(header) as Record<string, { data_offsets: number[] }>;
      let end = 0;
      for (const [name] of sampleTensors()) {
        expect(json[name]!.data_offsets[0]).toBe(end);
        end = json[name]!.data_offsets[1]!;
      }
      expect(bytes.length).toBe(8 + n + end);
    }
  });

  it('writes no __metadata__ without metadata, and parses to an empty record', () => {
    const bytes = serializeSafetensors([['x', { dtype: 'F32', shape: [1], data: Float32Array.of(1) }]]);
    expect(new TextDecoder().decode(bytes)).not.toContain('__metadata__');
    expect(parseSafetensors(bytes).metadata).toEqual({});
  });

  it('parses an ArrayBuffer and an unaligned Uint8Array view into a larger buffer', () => {
    const bytes = serializeSafetensors(sampleTensors());
    const fromBuffer = parseSafetensors(bytes.slice().buffer);
    expect(tensorToFloat32(fromBuffer.tensors.get('a')!, 'a')).toEqual(Float32Array.of(1, -2, 3.5, 1e-30, 6e30, -0.125));

    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    const view = parseSafetensors(shifted.subarray(3));
    const a = view.tensors.get('a')!;
    expect(a.data.byteOffset % 4).not.toBe(0);
    expect(tensorToFloat32(a, 'a')).toEqual(Float32Array.of(1, -2, 3.5, 1e-30, 6e30, -0.125));
    expect(tensorToInt32(view.tensors.get('ids')!, 'ids')).toEqual(Int32Array.of(-2147483648, 0, 2147483647));
  });

  it('rejects data that does not match the shape or dtype, and reserved or duplicate names', () => {
    expect(() => serializeSafetensors([['w', { dtype: 'F32', shape: [2, 3], data: new Float32Array(5) }]])).toThrow(
      'tensor w: 5 elements, but shape [2,3] needs 6',
    );
    expect(() => serializeSafetensors([['w', { dtype: 'I32', shape: [2], data: new Float32Array(2) }]])).toThrow(
      'tensor w: dtype I32 does not match its Float32Array data',
    );
    expect(() => serializeSafetensors([['w', { dtype: 'F32', shape: [-2], data: new Float32Array(0) }]])).toThrow(
      'tensor w: shape must be a list of non-negative integers',
    );
    const one = { dtype: 'F32' as const, shape: [1], data: new Float32Array(1) };
    expect(() => serializeSafetensors([['w', one], ['w', one]])).toThrow('duplicate or reserved tensor name w');
    expect(() => serializeSafetensors([['__metadata__', one]])).toThrow('duplicate or reserved tensor name __metadata__');
  });
});

describe('safetensors malformed files', () => {
  const valid = serializeSafetensors([
    ['a', { dtype: 'F32', shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) }],
    ['b', { dtype: 'F32', shape: [3], data: Float32Array.of(5, 6, 7) }],
  ]);
  const f32 = (shape: number[], data_offsets: number[]) => ({ dtype: 'F32', shape, data_offsets });

  it('a file shorter than the 8-byte header length', () => {
    expect(parseErr(valid.subarray(0, 5))).toThrow(
      'bad.safetensors: truncated or not a safetensors file: 5 bytes, fewer than the 8-byte header length',
    );
    expect(parseErr(new Uint8Array(0))).toThrow('bad.safetensors: truncated or not a safetensors file: 0 bytes');
  });

  it('a header length beyond the end of the file', () => {
    const n = Number(new DataView(valid.buffer).getBigUint64(0, true));
    expect(parseErr(valid.subarray(0, 8 + n - 1))).toThrow(
      `bad.safetensors: truncated: the header length is ${n} bytes but only ${n - 1} follow it`,
    );
    const corrupt = valid.slice();
    new DataView(corrupt.buffer).setBigUint64(0, 0xffffffffffffff00n, true);
    expect(parseErr(corrupt)).toThrow(
      `bad.safetensors: truncated: the header length is ${0xffffffffffffff00n} bytes but only ${valid.length - 8} follow it`,
    );
  });

  it('a truncated data section names the tensor that does not fit', () => {
    const n = Number(new DataView(valid.buffer).getBigUint64(0, true));
    const cut = valid.subarray(0, valid.length - 5);
    expect(parseErr(cut)).toThrow(
      `bad.safetensors: truncated: tensor b needs bytes [16,28) but the data section has only 23`,
    );
    expect(cut.length - 8 - n).toBe(23);
  });

  it('a header that is not valid JSON, not UTF-8, or not an object', () => {
    expect(parseErr(rawFile('{"a": {"dtype": "F32",'))).toThrow('bad.safetensors: the header is not valid UTF-8 JSON');
    const notUtf8 = rawFile('{"a":1}');
    notUtf8[10] = 0xff;
    expect(parseErr(notUtf8)).toThrow('bad.safetensors: the header is not valid UTF-8 JSON');
    expect(parseErr(rawFile('[1, 2]'))).toThrow('bad.safetensors: the header is not a JSON object');
    expect(parseErr(rawFile({ a: 3 }))).toThrow('bad.safetensors: tensor a: entry is not an object');
  });

  it('a missing or unknown dtype', () => {
    expect(parseErr(rawFile({ a: { shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)))).toThrow(
      'bad.safetensors: tensor a: missing dtype',
    );
    expect(parseErr(rawFile({ a: { dtype: 'F33', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)))).toThrow(
      'bad.safetensors: tensor a: unknown dtype "F33"',
    );
    expect(parseErr(rawFile({ a: { dtype: 'toString', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)))).toThrow(
      'bad.safetensors: tensor a: unknown dtype "toString"',
    );
  });

  it('a shape that is not a list of non-negative integers', () => {
    for (const shape of [[-1], [1.5], ['2'], 4, null]) {
      expect(parseErr(rawFile({ a: { dtype: 'F32', shape, data_offsets: [0, 4] } }, new Uint8Array(4)))).toThrow(
        `bad.safetensors: tensor a: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`,
      );
    }
    expect(parseErr(rawFile({ a: { dtype: 'F32', data_offsets: [0, 4] } }, new Uint8Array(4)))).toThrow(
      'bad.safetensors: tensor a: shape must be a list of non-negative integers, got undefined',
    );
  });

  it('malformed or out-of-order offsets', () => {
    expect(parseErr(rawFile({ a: f32([1], [8, 4]) }, new Uint8Array(8)))).toThrow(
      'bad.safetensors: tensor a: data_offsets [8,4] are out of order',
    );
    expect(parseErr(rawFile({ a: f32([1], [0]) }, new Uint8Array(8)))).toThrow(
      'bad.safetensors: tensor a: data_offsets must be [begin, end] with non-negative integers, got [0]',
    );
    expect(parseErr(rawFile({ a: f32([1], [-4, 0]) }, new Uint8Array(8)))).toThrow('tensor a: data_offsets must be');
    expect(parseErr(rawFile({ a: f32([1], [4, 12]) }, new Uint8Array(8)))).toThrow(
      'bad.safetensors: truncated: tensor a needs bytes [4,12) but the data section has only 8',
    );
  });

  it('a size that does not match dtype and shape', () => {
    expect(parseErr(rawFile({ a: f32([2, 3], [0, 20]) }, new Uint8Array(24)))).toThrow(
      'bad.safetensors: tensor a: 20 bytes of data, but F32 [2,3] needs 24',
    );
    expect(parseErr(rawFile({ a: { dtype: 'BF16', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)))).toThrow(
      'bad.safetensors: tensor a: 8 bytes of data, but BF16 [3] needs 6',
    );
  });

  it('overlapping tensors, in either header order', () => {
    const data = new Uint8Array(24);
    expect(parseErr(rawFile({ a: f32([4], [0, 16]), b: f32([2], [12, 20]) }, data))).toThrow(
      'bad.safetensors: tensors a [0,16) and b [12,20) overlap',
    );
    expect(parseErr(rawFile({ b: f32([2], [12, 20]), a: f32([4], [0, 16]) }, data))).toThrow(
      'bad.safetensors: tensors a [0,16) and b [12,20) overlap',
    );
    expect(parseErr(rawFile({ a: f32([2], [8, 16]), b: f32([2], [8, 16]) }, data))).toThrow('overlap');
    // Touching is fine, and an empty tensor occupies nothing.
    const ok = parseSafetensors(rawFile({ a: f32([2], [0, 8]), b: f32([2], [8, 16]), e: f32([0], [4, 4]) }, data));
    expect(ok.tensors.size).toBe(3);
  });

  it('metadata that is not an object of strings', () => {
    expect(parseErr(rawFile({ __metadata__: { n: 3 } }))).toThrow('bad.safetensors: __metadata__.n must be a string, got 3');
    expect(parseErr(rawFile({ __metadata__: ['x'] }))).toThrow('bad.safetensors: __metadata__ must be an object of strings');
  });

  it('uses a default source name', () => {
    expect(() => parseSafetensors(new Uint8Array(2))).toThrow('safetensors data: truncated');
  });
});

/** A tensor of 16-bit values, deliberately at an odd byte offset. */
function halfTensor(dtype: 'F16' | 'BF16', bits: number[]): SafeTensor {
  const buf = new Uint8Array(1 + 2 * bits.length);
  buf.set(bytesOf(Uint16Array.from(bits)), 1);
  return { dtype, shape: [bits.length], data: buf.subarray(1) };
}

/** f16 decoded arithmetically, independently of the bit-twiddling decoder. */
function f16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  if (exp === 0) return sign * mant * 2 ** -24;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

describe('tensor conversion', () => {
  it('F16 known values: 1, -2.5, 65504, subnormals, ±inf, ±0, NaN', () => {
    const t = halfTensor('F16', [0x3c00, 0xc100, 0x7bff, 0x0001, 0x03ff, 0x8001, 0x7c00, 0xfc00, 0x0000, 0x8000, 0x7e00]);
    const out = tensorToFloat32(t, 'h');
    expect(Array.from(out.subarray(0, 8))).toEqual([1, -2.5, 65504, 2 ** -24, 1023 * 2 ** -24, -(2 ** -24), Infinity, -Infinity]);
    expect(Object.is(out[8], 0)).toBe(true);
    expect(Object.is(out[9], -0)).toBe(true);
    expect(out[10]).toBeNaN();
  });

  it('F16: all 65536 bit patterns decode exactly', () => {
    const bits = Array.from({ length: 65536 }, (_, i) => i);
    const out = tensorToFloat32(halfTensor('F16', bits), 'all');
    for (let h = 0; h < 65536; h++) {
      const want = f16Value(h);
      if (Number.isNaN(want)) expect(out[h]).toBeNaN();
      else if (!Object.is(out[h], want)) expect.fail(`f16 0x${h.toString(16)}: got ${out[h]}, want ${want}`);
    }
  });

  it('BF16 known values: 1, -2.5, the largest finite, a subnormal, ±inf, NaN', () => {
    const t = halfTensor('BF16', [0x3f80, 0xc020, 0x7f7f, 0x0001, 0x7f80, 0xff80, 0x8000, 0x7fc0]);
    const out = tensorToFloat32(t, 'b');
    expect(Array.from(out.subarray(0, 6))).toEqual([1, -2.5, 3.3895313892515355e38, 2 ** -133, Infinity, -Infinity]);
    expect(Object.is(out[6], -0)).toBe(true);
    expect(out[7]).toBeNaN();
  });

  it('other dtypes are a clear error naming the tensor', () => {
    const i32: SafeTensor = { dtype: 'I32', shape: [1], data: new Uint8Array(4) };
    expect(() => tensorToFloat32(i32, 'x')).toThrow('tensor x: dtype I32 cannot be read as float32 (expected F32, F16 or BF16)');
    const f32: SafeTensor = { dtype: 'F32', shape: [1], data: new Uint8Array(4) };
    expect(() => tensorToInt32(f32, 'y')).toThrow('tensor y: dtype F32 cannot be read as int32 (expected I32 or I64)');
    const short: SafeTensor = { dtype: 'F32', shape: [2], data: new Uint8Array(4) };
    expect(() => tensorToFloat32(short, 'z')).toThrow('tensor z: 4 bytes do not hold F32 [2]');
  });

  it('I64 narrows to int32 within range, errors beyond it', () => {
    const big = (values: bigint[]): SafeTensor => {
      const buf = new Uint8Array(3 + 8 * values.length);
      const view = new DataView(buf.buffer, 3);
      values.forEach((v, i) => view.setBigInt64(8 * i, v, true));
      return { dtype: 'I64', shape: [values.length], data: buf.subarray(3) };
    };
    expect(tensorToInt32(big([0n, -1n, 50256n, 2147483647n, -2147483648n]), 'ids')).toEqual(
      Int32Array.of(0, -1, 50256, 2147483647, -2147483648),
    );
    expect(() => tensorToInt32(big([1n, 2147483648n]), 'ids')).toThrow(
      'tensor ids: I64 value 2147483648 at index 1 does not fit in int32',
    );
  });
});
