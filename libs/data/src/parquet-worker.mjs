// Reads one or more Parquet files for parquet.ts, whose caller is synchronous (dataset loaders run inside worker
// threads and tests at once): hyparquet's reader is asynchronous, so it runs here and the caller blocks on `flag`
// until the answer is posted. Columns come back whole — a numeric or date one as a Float64Array moved, not copied —
// since cloning millions of row arrays of dates and 64-bit integers took longer than reading the file. Plain
// JavaScript, so the worker needs no TypeScript loader.
import { readFileSync } from 'node:fs';
import { gunzipSync, brotliDecompressSync } from 'node:zlib';
import { workerData } from 'node:worker_threads';

const { paths, port, flag, maxBytes } = workerData;

const DAY_MS = 86_400_000;

/**
 * A column as numbers (64-bit integers, booleans 0 / 1; missing NaN) when it is one; a column of dates and
 * timestamps as days since 1970-01-01 UTC (as a CSV's ISO 8601 dates read), marked `date`.
 */
function asNumbers(values) {
  const out = new Float64Array(values.length);
  let dates = 0;
  let others = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      out[i] = NaN;
      continue;
    }
    if (v instanceof Date) {
      out[i] = v.getTime() / DAY_MS;
      dates++;
      continue;
    }
    if (typeof v === 'number') out[i] = v;
    else if (typeof v === 'bigint') out[i] = Number(v);
    else if (typeof v === 'boolean') out[i] = v ? 1 : 0;
    else return undefined;
    others++;
  }
  // Every Parquet column has one type, so a column holds dates or numbers, not both.
  return { numbers: out, date: dates > 0 && others === 0 };
}

async function read() {
  // Imported here, so that a failure to load them is an answer too (the caller waits for one).
  const { parquetMetadata, parquetRead, parquetSchema } = await import('hyparquet');
  const { decompress: zstdDecompress } = await import('fzstd');
  /** Codecs beyond hyparquet's own (none, Snappy — pandas' default): polars writes Zstandard, Spark may write gzip. */
  const compressors = {
    GZIP: (input) => new Uint8Array(gunzipSync(input)),
    BROTLI: (input) => new Uint8Array(brotliDecompressSync(input)),
    ZSTD: (input, outputLength) => zstdDecompress(input, new Uint8Array(outputLength)),
  };
  const files = [];
  const transfer = [];
  let decodedBytes = 0;
  for (const path of paths) {
    try {
      const bytes = readFileSync(path);
      const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      const metadata = parquetMetadata(file);
      const names = parquetSchema(metadata).children.map((c) => c.element.name);
      const rows = Number(metadata.num_rows);
      // A compressed file can hold far more than its bytes: what it decodes to (8 bytes a cell) is what counts.
      decodedBytes += rows * names.length * 8;
      if (decodedBytes > maxBytes) return { tooBig: decodedBytes, path };
      const values = new Map(names.map((n) => [n, new Array(rows).fill(null)]));
      await parquetRead({
        file,
        metadata,
        compressors,
        onChunk: ({ columnName, columnData, rowStart }) => {
          const column = values.get(columnName);
          for (let i = 0; i < columnData.length; i++) column[rowStart + i] = columnData[i];
        },
      });
      const columns = names.map((name) => {
        const read = asNumbers(values.get(name));
        if (!read) return { name, values: values.get(name) };
        transfer.push(read.numbers.buffer);
        return { name, numbers: read.numbers, ...(read.date && { date: true }) };
      });
      files.push({ columns, rows });
    } catch (err) {
      return { error: err instanceof Error ? err.message : String(err), path };
    }
  }
  return { files, transfer };
}

let answer;
let transfer = [];
try {
  ({ transfer = [], ...answer } = await read());
} catch (err) {
  answer = { error: err instanceof Error ? err.message : String(err), path: paths[0] };
}
port.postMessage(answer, transfer);
Atomics.store(flag, 0, 1);
Atomics.notify(flag, 0);
