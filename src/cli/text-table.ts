/** Plain-text tables for the terminal. */

/**
 * Lines of a table: columns padded to their widest cell, the first (names)
 * left-aligned, the others (figures) right-aligned, `gap` spaces apart.
 */
export function formatTable(rows: readonly (readonly string[])[], gap = 2): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' '.repeat(gap)));
}
