import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/reference/random.ts';
import { decodeUtf8, firstInvalidUtf8 } from '../../src/data/utf8.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const cat = (...parts: (Uint8Array | number[])[]) => Uint8Array.from(parts.flatMap((p) => [...p]));

describe('decodeUtf8', () => {
  it('decodes UTF-8 exactly, and takes off a leading byte-order mark, saying so', () => {
    expect(decodeUtf8(enc('café ☕ 𝄞\nline 2'), 'a.txt')).toEqual({ text: 'café ☕ 𝄞\nline 2', bom: false });
    expect(decodeUtf8(cat([0xef, 0xbb, 0xbf], enc('hi')), 'a.txt')).toEqual({ text: 'hi', bom: true });
    // Only the first one: a second mark is text the file holds.
    expect(decodeUtf8(cat([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf], enc('x')), 'a.txt')).toEqual({ text: '\uFEFFx', bom: true });
    expect(decodeUtf8(new Uint8Array(0), 'a.txt')).toEqual({ text: '', bom: false });
  });

  it('refuses bytes that are not UTF-8 with the file, the byte offset and the line, instead of U+FFFD', () => {
    const latin1 = cat(enc('line one\nline two\ncaf'), [0xe9], enc(' au lait\n'));
    expect(() => decodeUtf8(latin1, 'corpus.txt')).toThrow(
      'corpus.txt: invalid UTF-8 at byte offset 21 (line 3): the bytes 0xE9 0x20 are not a UTF-8 character; the file must be UTF-8 text',
    );
    expect(() => decodeUtf8(cat(enc('ab'), [0xff]), 'x.txt')).toThrow('x.txt: invalid UTF-8 at byte offset 2 (line 1): byte 0xFF is never used in UTF-8');
    expect(() => decodeUtf8(cat(enc('ab'), [0x80]), 'x.txt')).toThrow('byte 0x80 is a continuation byte with no lead byte before it');
    expect(() => decodeUtf8(cat(enc('ab\n'), [0xe2, 0x82]), 'x.txt')).toThrow(
      'x.txt: invalid UTF-8 at byte offset 3 (line 2): the file ends inside the 3-byte character that 0xE2 starts',
    );
    // Overlong forms and UTF-16 surrogates are not UTF-8 either.
    expect(() => decodeUtf8(Uint8Array.from([0xc0, 0xaf]), 'x.txt')).toThrow('byte 0xC0 is never used in UTF-8');
    expect(() => decodeUtf8(Uint8Array.from([0xed, 0xa0, 0x80]), 'x.txt')).toThrow('the bytes 0xED 0xA0 are not a UTF-8 character');
    // The offset counts the byte-order mark: it is the offset in the file.
    expect(() => decodeUtf8(cat([0xef, 0xbb, 0xbf], enc('a'), [0xff]), 'x.txt')).toThrow('at byte offset 4 (line 1)');
  });

  it('names a UTF-16 file as such', () => {
    expect(() => decodeUtf8(Uint8Array.from([0xff, 0xfe, 0x68, 0x00]), 'w.txt')).toThrow(
      'w.txt: the file is UTF-16 (little-endian: it starts with the byte-order mark 0xFF 0xFE); save it as UTF-8',
    );
    expect(() => decodeUtf8(Uint8Array.from([0xfe, 0xff, 0x00, 0x68]), 'w.txt')).toThrow('UTF-16 (big-endian');
  });

  it('finds the first bad byte exactly where the WHATWG decoder first fails, on random bytes', () => {
    const rng = new Rng(7);
    const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    const lossy = new TextDecoder('utf-8', { ignoreBOM: true });
    const pieces = [[0x41], [0x0a], [0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0x80], [0xc3], [0xe2, 0x82], [0xf5], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe0, 0x80, 0x80]];
    for (let trial = 0; trial < 2000; trial++) {
      const bytes = cat(...Array.from({ length: 1 + rng.int(6) }, () => pieces[rng.int(pieces.length)]!));
      const bad = firstInvalidUtf8(bytes);
      let valid = true;
      try {
        fatal.decode(bytes);
      } catch {
        valid = false;
      }
      expect(bad === null, `${[...bytes]}`).toBe(valid);
      if (bad) {
        // Everything before the offset decodes without a replacement character; the sequence at it does not.
        expect(lossy.decode(bytes.subarray(0, bad.offset))).not.toContain('\uFFFD');
        expect(lossy.decode(bytes.subarray(bad.offset)).startsWith('\uFFFD'), `${[...bytes]} at ${bad.offset}`).toBe(true);
      }
    }
  });
});
