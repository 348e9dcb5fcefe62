// CSV the CLI writes (trials, predictions): RFC 4180 quoting.

/** A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180). */
export const csvField = (v: unknown): string => {
  const text = v === undefined || v === null ? '' : String(v);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

/** One CSV line of `fields`, with its line break. */
export const csvLine = (fields: readonly unknown[]): string => fields.map(csvField).join(',') + '\n';
