/** A cell as the CLI shows it: text as it is, numbers right-aligned, nothing for a missing value. */
export type Cell = string | number | boolean | null | undefined;

/**
 * Rows as aligned columns under a header, for an operator's terminal. `console.table` would add
 * an index column, quote every string and draw a box that wraps on a narrow terminal; this
 * prints only the values, two spaces apart, numbers aligned on the right so counts line up.
 * The columns are `columns` in that order, else every key of the rows in first-seen order.
 */
export function formatTable<T extends { [K in keyof T]: Cell }>(rows: readonly T[], columns?: ReadonlyArray<keyof T & string>): string {
  const keys: string[] = columns ? [...columns] : [...new Set(rows.flatMap((row) => Object.keys(row)))];
  if (keys.length === 0) return '';
  const cell = (row: T, key: string): Cell => (row as Record<string, Cell>)[key];
  const text = (value: Cell): string => (value === null || value === undefined ? '' : String(value));
  const numeric = keys.map((key) => rows.length > 0 && rows.every((row) => typeof cell(row, key) === 'number' || cell(row, key) == null));
  const widths = keys.map((key) => Math.max(key.length, ...rows.map((row) => text(cell(row, key)).length)));
  const line = (cells: string[]): string =>
    cells
      .map((value, i) => (numeric[i] ? value.padStart(widths[i] ?? 0) : value.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(keys), ...rows.map((row) => line(keys.map((key) => text(cell(row, key)))))].join('\n') + '\n';
}
