/**
 * JSON Lines: one JSON object per line. Errors name the file and the line,
 * so a bad record stops a run before training, pointing at what to fix.
 */

export interface JsonlRecord {
  /** 1-based line number in the file */
  line: number;
  value: Record<string, unknown>;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/**
 * Blank lines are skipped; CRLF line ends and a leading byte-order mark (both
 * common in files saved on Windows) are accepted.
 */
export function parseJsonl(text: string, source: string): JsonlRecord[] {
  const records: JsonlRecord[] = [];
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw new Error(`${source}:${line}: invalid JSON: ${(e as Error).message}`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error(`${source}:${line}: expected a JSON object, got ${kindOf(value)}`);
    }
    records.push({ line, value: value as Record<string, unknown> });
  });
  if (records.length === 0) throw new Error(`${source}: no records (the file is empty)`);
  return records;
}
