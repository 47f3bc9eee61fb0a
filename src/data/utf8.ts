/**
 * Input files as text: strict UTF-8. A byte that is not UTF-8 stops with the
 * file, the byte offset and the line, instead of becoming U+FFFD and being
 * trained on; a leading byte-order mark is taken off (and reported by the
 * caller), so that it is not trained on either.
 */

export interface DecodedText {
  text: string;
  /** the bytes began with the UTF-8 byte-order mark EF BB BF, which `text` leaves out */
  bom: boolean;
}

const hex = (b: number) => `0x${b.toString(16).toUpperCase().padStart(2, '0')}`;

/**
 * Where the first malformed UTF-8 sequence starts, and what is wrong with it
 * (Unicode's well-formed byte sequences, table 3-7: no overlong forms, no
 * surrogates, nothing above U+10FFFF); null when every byte is well formed.
 */
export function firstInvalidUtf8(bytes: Uint8Array): { offset: number; reason: string } | null {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0; // overlong
      if (b === 0xed) hi = 0x9f; // surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90; // overlong
      if (b === 0xf4) hi = 0x8f; // above U+10FFFF
    } else {
      const what = b <= 0xbf ? 'a continuation byte with no lead byte before it' : 'never used in UTF-8';
      return { offset: i, reason: `byte ${hex(b)} is ${what}` };
    }
    for (let k = 1; k <= need; k++) {
      if (i + k >= n) return { offset: i, reason: `the file ends inside the ${need + 1}-byte character that ${hex(b)} starts` };
      const c = bytes[i + k]!;
      if (c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) {
        const seq = Array.from(bytes.subarray(i, i + k + 1), hex).join(' ');
        return { offset: i, reason: `the bytes ${seq} are not a UTF-8 character` };
      }
    }
    i += need + 1;
  }
  return null;
}

/** 1-based line of a byte offset (lines end at LF). */
function lineAt(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++;
  return line;
}

/**
 * The text of a UTF-8 file, or an error naming `source`, the byte offset and
 * the line of the first byte that is not UTF-8 (a UTF-16 file is named as such).
 */
export function decodeUtf8(bytes: Uint8Array, source: string): DecodedText {
  if (bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) {
    const order = bytes[0] === 0xff ? 'little-endian' : 'big-endian';
    throw new Error(`${source}: the file is UTF-16 (${order}: it starts with the byte-order mark ${hex(bytes[0]!)} ${hex(bytes[1]!)}); save it as UTF-8`);
  }
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  const body = bom ? bytes.subarray(3) : bytes;
  try {
    return { text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body), bom };
  } catch {
    const bad = firstInvalidUtf8(body);
    if (!bad) throw new Error(`${source}: not valid UTF-8`);
    const offset = bad.offset + (bom ? 3 : 0);
    throw new Error(
      `${source}: invalid UTF-8 at byte offset ${offset} (line ${lineAt(bytes, offset)}): ${bad.reason}; ` +
        'the file must be UTF-8 text (convert it first)',
    );
  }
}
