/** Plain-text tables for the terminal. */

/**
 * Lines of a table: columns padded to their widest cell, `gap` spaces apart.
 * `figures`: the first column (names) left-aligned, the others (figures)
 * right-aligned; `text`: every column left-aligned, the last one unpadded.
 */
export function formatTable(rows: readonly (readonly string[])[], gap = 2, align: 'figures' | 'text' = 'figures'): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const pad = (cell: string, i: number, last: boolean) =>
    align === 'text' ? (last ? cell : cell.padEnd(widths[i]!)) : i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!);
  return rows.map((row) => row.map((cell, i) => pad(cell, i, i === row.length - 1)).join(' '.repeat(gap)));
}
