// The worker behind PostgresMetadataStore (postgres.ts): one connection, one query at a time. The store's
// thread posts a query with an id and sleeps on a shared flag (Atomics.wait) until the flag holds that id and
// the answer is on the port, which makes the store synchronous like better-sqlite3. Plain JavaScript so the
// worker needs no TypeScript loader.
import { workerData } from 'node:worker_threads';
import pg from 'pg';

const { url, schema, port, flag, retryMs } = workerData;
/** Errors that a new connection can cure: the server restarted, or the socket broke. */
const CONNECTION_CODES = new Set(['57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004']);
const isConnectionError = (err) =>
  CONNECTION_CODES.has(err.code) ||
  ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(err.code) ||
  /Connection terminated|not queryable|Client was closed/i.test(err.message ?? '');

// BIGINT (int8) as a JavaScript number: ids and steps stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

let client;
let inTransaction = false;

async function connect() {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  c.on('error', () => {
    // A broken connection is noticed by the next query, which reconnects.
    if (client === c) client = undefined;
  });
  await c.connect();
  await c.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  await c.query(`SET search_path TO "${schema}"`);
  client = c;
}

async function query(sql, params) {
  const deadline = Date.now() + retryMs;
  for (;;) {
    try {
      if (!client) await connect();
      return await client.query(sql, params);
    } catch (err) {
      // Inside a transaction the work so far is lost with the connection: the caller must start over.
      if (!isConnectionError(err) || inTransaction || Date.now() > deadline) throw err;
      client?.end().catch(() => undefined);
      client = undefined;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

port.on('message', async ({ id, sql, params }) => {
  let answer;
  try {
    const r = await query(sql, params);
    answer = { id, rows: r.rows, rowCount: r.rowCount };
    if (sql === 'BEGIN') inTransaction = true;
  } catch (err) {
    answer = { id, error: { message: err.message, code: err.code } };
  }
  if (sql === 'COMMIT' || sql === 'ROLLBACK') inTransaction = false;
  // The answer first, then the id that says it is there (the store's thread waits for its own id).
  port.postMessage(answer);
  Atomics.store(flag, 0, id);
  Atomics.notify(flag, 0);
});
