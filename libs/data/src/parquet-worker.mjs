// Reads one or more Parquet files for parquet.ts, whose caller is synchronous (dataset loaders run inside worker
// threads and tests at once): hyparquet's reader is asynchronous, so it runs here and the caller blocks on `flag`
// until the answer is posted. Plain JavaScript, so the worker needs no TypeScript loader.
import { readFileSync } from 'node:fs';
import { gunzipSync, brotliDecompressSync } from 'node:zlib';
import { workerData } from 'node:worker_threads';

const { paths, port, flag } = workerData;

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
  for (const path of paths) {
    try {
      const bytes = readFileSync(path);
      const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      const metadata = parquetMetadata(file);
      const columns = parquetSchema(metadata).children.map((c) => c.element.name);
      let rows = [];
      await parquetRead({ file, metadata, compressors, rowFormat: 'array', onComplete: (r) => (rows = r) });
      files.push({ columns, rows });
    } catch (err) {
      return { error: err instanceof Error ? err.message : String(err), path };
    }
  }
  return { files };
}

let answer;
try {
  answer = await read();
} catch (err) {
  answer = { error: err instanceof Error ? err.message : String(err), path: paths[0] };
}
port.postMessage(answer);
Atomics.store(flag, 0, 1);
Atomics.notify(flag, 0);
