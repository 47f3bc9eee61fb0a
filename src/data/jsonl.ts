/** JSON Lines: one JSON object per line; errors name the file and the line. */

export interface JsonlRecord {
  /** 1-based line number in the file */
  line: number;
  value: Record<string, unknown>;
}

export function parseJsonl(text: string, source: string): JsonlRecord[] {
  const records: JsonlRecord[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, i) => {
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw new Error(`${source}:${i + 1}: invalid JSON: ${(e as Error).message}`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error(`${source}:${i + 1}: expected a JSON object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`);
    }
    records.push({ line: i + 1, value: value as Record<string, unknown> });
  });
  if (records.length === 0) throw new Error(`${source}: no records (the file is empty)`);
  return records;
}
