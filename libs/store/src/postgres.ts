// PostgreSQL metadata store for cluster mode (FLOE_DATABASE_URL=postgres://…): the same records, metrics and
// request answers as SQLite, in one schema per service, with the same migrations. Synchronous like
// better-sqlite3 — a worker thread holds the connection and the calling thread waits for each answer —
// so every service runs unchanged on either store. A query that loses its connection outside a
// transaction is retried on a new one until FLOE_DATABASE_RETRY_MS has passed (a server restart); a
// transaction that loses it fails, and its caller starts it over.
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { pageByKeyset } from './keyset.js';
import type { Lease, ListOptions, ListResult, MetadataStore, MetricRow, StoredRecord, StoredRequest } from './types.js';

/** The store's schema on PostgreSQL; versions match SQLite's MIGRATIONS. Append; never edit a released one. */
export const PG_MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'records and metrics',
    sql: `
      CREATE TABLE records (
        seq BIGSERIAL NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT '',
        request_id TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (kind, id)
      );
      CREATE UNIQUE INDEX records_request ON records (kind, request_id) WHERE request_id IS NOT NULL;
      CREATE INDEX records_list ON records (kind, seq DESC);
      CREATE TABLE metrics (
        owner_id TEXT NOT NULL,
        step BIGINT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (owner_id, step)
      );
    `,
  },
  {
    version: 2,
    name: 'answers of state-changing requests, by request id',
    sql: `
      CREATE TABLE requests (
        method TEXT NOT NULL,
        request_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        response TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (method, request_id)
      );
    `,
  },
  {
    version: 3,
    name: 'leases',
    sql: `
      CREATE TABLE leases (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        owner TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (kind, id)
      );
    `,
  },
];

/** The database server's clock in epoch milliseconds: one clock for every replica's leases. */
const NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

/** How long one query may take before the store gives up (the worker's own retries included). */
const ANSWER_TIMEOUT_MS = 60_000;

export class PostgresError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/**
 * Blocks until the answer to query `id` is on `port`, which the worker signals by storing `id` in `flag[0]`.
 * Waking is not proof of an answer: a notify from the previous query can arrive late (the worker was
 * descheduled between its store and its notify), and an answer to a query that timed out can arrive
 * later still. So the wait loops until the flag holds this query's id, and answers to older ids are dropped.
 */
export function awaitAnswer<A extends { id: number }>(
  port: MessagePort,
  flag: Int32Array,
  id: number,
  timeoutMs: number,
): A {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = Atomics.load(flag, 0);
    if (seen === id) break;
    const left = deadline - Date.now();
    if (left <= 0) throw new PostgresError(`PostgreSQL did not answer within ${timeoutMs} ms`, undefined);
    Atomics.wait(flag, 0, seen, left);
  }
  for (;;) {
    const answer = receiveMessageOnPort(port)?.message as A | undefined;
    if (!answer) throw new PostgresError('the PostgreSQL worker answered nothing', undefined);
    if (answer.id === id) return answer;
  }
}

type Answer<R> = { id: number } & (
  { rows: R[]; rowCount: number; error?: undefined } | { error: { message: string; code?: string } }
);

/** One connection, used synchronously: each call blocks until PostgreSQL answers. */
export class SyncPostgres {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  /** The id of the last query answered; the worker stores it after posting the answer. */
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private lastId = 0;
  private closed = false;

  constructor(url: string, schema: string, retryMs: number) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(new URL('./pg-worker.mjs', import.meta.url), {
      workerData: { url, schema, port: port2, flag: this.flag, retryMs },
      transferList: [port2],
    });
    // The connection must not keep the process alive.
    this.worker.unref();
  }

  query<R = Record<string, unknown>>(sql: string, params: unknown[] = []): { rows: R[]; rowCount: number } {
    if (this.closed) throw new Error('the PostgreSQL store is closed');
    // Positive int32 ids that wrap; 0 is never used, so a fresh flag matches no query.
    const id = (this.lastId = (this.lastId % 0x7fffffff) + 1);
    this.port.postMessage({ id, sql, params });
    const answer = awaitAnswer<Answer<R>>(this.port, this.flag, id, ANSWER_TIMEOUT_MS);
    if (answer.error) throw new PostgresError(`PostgreSQL: ${answer.error.message}`, answer.error.code);
    return answer;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.worker.terminate();
  }
}

type Row = { seq: number; id: string; state: string; created_at: number; updated_at: number; body: string };

const toRecord = <T>(r: Row): StoredRecord<T> => ({
  seq: r.seq,
  id: r.id,
  state: r.state,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  body: JSON.parse(r.body) as T,
});

export class PostgresMetadataStore implements MetadataStore {
  private readonly db: SyncPostgres;
  private depth = 0;

  /** `schema`: one per service (its SQLite file's name), so services share a database and not tables. */
  constructor(url: string, schema: string, options: { retryMs?: number } = {}) {
    if (!/^[a-z][a-z0-9_-]{0,62}$/.test(schema)) throw new Error(`invalid schema name ${JSON.stringify(schema)}`);
    this.db = new SyncPostgres(url, schema, options.retryMs ?? 10_000);
    this.migrate(schema);
  }

  private migrate(schema: string): void {
    // Replicas starting together migrate one at a time (a transaction-scoped advisory lock per schema).
    this.transaction(() => {
      this.db.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`floe-migrate-${schema}`]);
      this.db.query('CREATE TABLE IF NOT EXISTS floe_schema (version INTEGER NOT NULL)');
      const current = this.db.query<{ v: number | null }>('SELECT max(version) AS v FROM floe_schema').rows[0]?.v ?? 0;
      const known = Math.max(...PG_MIGRATIONS.map((m) => m.version));
      if (current > known)
        throw new Error(`schema ${schema} has version ${current}, newer than this floe (${known}); refusing to use it`);
      for (const m of PG_MIGRATIONS) {
        if (m.version <= current) continue;
        this.db.query(m.sql);
        this.db.query('INSERT INTO floe_schema (version) VALUES ($1)', [m.version]);
      }
    });
  }

  readonly shared = true;

  acquireLease(kind: string, id: string, owner: string, ttlMs: number): boolean {
    const { rows } = this.db.query<{ owner: string }>(
      `INSERT INTO leases (kind, id, owner, expires_at) VALUES ($1, $2, $3, ${NOW_MS} + $4)
       ON CONFLICT (kind, id) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
       WHERE leases.owner = EXCLUDED.owner OR leases.expires_at < ${NOW_MS}
       RETURNING owner`,
      [kind, id, owner, ttlMs],
    );
    return rows[0]?.owner === owner;
  }

  renewLease(kind: string, id: string, owner: string, ttlMs: number): boolean {
    return (
      this.db.query(
        `UPDATE leases SET expires_at = ${NOW_MS} + $4 WHERE kind = $1 AND id = $2 AND owner = $3 AND expires_at >= ${NOW_MS}`,
        [kind, id, owner, ttlMs],
      ).rowCount > 0
    );
  }

  releaseLease(kind: string, id: string, owner: string): void {
    this.db.query('DELETE FROM leases WHERE kind = $1 AND id = $2 AND owner = $3', [kind, id, owner]);
  }

  leaseOf(kind: string, id: string): Lease | undefined {
    const { rows } = this.db.query<{ owner: string; expires_at: number }>(
      'SELECT owner, expires_at FROM leases WHERE kind = $1 AND id = $2',
      [kind, id],
    );
    return rows[0] && { owner: rows[0].owner, expiresAt: rows[0].expires_at };
  }

  create<T>(kind: string, id: string, state: string, body: T, requestId?: string): StoredRecord<T> {
    const now = Date.now();
    const { rows } = this.db.query<{ seq: number }>(
      'INSERT INTO records (kind, id, state, request_id, created_at, updated_at, body) VALUES ($1, $2, $3, $4, $5, $5, $6) RETURNING seq',
      [kind, id, state, requestId || null, now, JSON.stringify(body)],
    );
    return { seq: rows[0]!.seq, id, state, createdAt: now, updatedAt: now, body };
  }

  update<T>(kind: string, id: string, state: string, body: T): StoredRecord<T> {
    const { rows } = this.db.query<Row>(
      'UPDATE records SET state = $1, updated_at = $2, body = $3 WHERE kind = $4 AND id = $5 RETURNING seq, id, state, created_at, updated_at, body',
      [state, Date.now(), JSON.stringify(body), kind, id],
    );
    if (!rows.length) throw new Error(`${kind} ${id} does not exist`);
    return toRecord<T>(rows[0]!);
  }

  get<T>(kind: string, id: string): StoredRecord<T> | undefined {
    const { rows } = this.db.query<Row>(
      'SELECT seq, id, state, created_at, updated_at, body FROM records WHERE kind = $1 AND id = $2',
      [kind, id],
    );
    return rows[0] && toRecord<T>(rows[0]);
  }

  delete(kind: string, id: string): boolean {
    return this.db.query('DELETE FROM records WHERE kind = $1 AND id = $2 RETURNING id', [kind, id]).rows.length > 0;
  }

  findByRequestId<T>(kind: string, requestId: string): StoredRecord<T> | undefined {
    const { rows } = this.db.query<Row>(
      'SELECT seq, id, state, created_at, updated_at, body FROM records WHERE kind = $1 AND request_id = $2',
      [kind, requestId],
    );
    return rows[0] && toRecord<T>(rows[0]);
  }

  list<T>(kind: string, opts: ListOptions<T> = {}): ListResult<T> {
    const states = opts.states?.length ? opts.states : undefined;
    // As SQLite's: keyset by seq, newest first.
    return pageByKeyset(
      opts,
      (before, chunk) =>
        this.db.query<Row>(
          `SELECT seq, id, state, created_at, updated_at, body FROM records
           WHERE kind = $1 AND seq < $2 ${states ? 'AND state = ANY($4)' : ''}
           ORDER BY seq DESC LIMIT $3`,
          states ? [kind, before, chunk, states] : [kind, before, chunk],
        ).rows,
      (r) => toRecord<T>(r),
    );
  }

  recordRequest(method: string, requestId: string, request: StoredRequest): boolean {
    const { rowCount } = this.db.query(
      'INSERT INTO requests (method, request_id, fingerprint, response, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
      [method, requestId, request.fingerprint, JSON.stringify(request.response), Date.now()],
    );
    return rowCount > 0;
  }

  findRequest(method: string, requestId: string): StoredRequest | undefined {
    const { rows } = this.db.query<{ fingerprint: string; response: string }>(
      'SELECT fingerprint, response FROM requests WHERE method = $1 AND request_id = $2',
      [method, requestId],
    );
    return rows[0] && { fingerprint: rows[0].fingerprint, response: JSON.parse(rows[0].response) };
  }

  appendMetrics<T>(ownerId: string, rows: MetricRow<T>[]): void {
    if (!rows.length) return;
    // One statement: each step once, a step already stored kept as it is.
    this.db.query(
      'INSERT INTO metrics (owner_id, step, body) SELECT $1, * FROM unnest($2::bigint[], $3::text[]) ON CONFLICT DO NOTHING',
      [ownerId, rows.map((r) => r.step), rows.map((r) => JSON.stringify(r.body))],
    );
  }

  metrics<T>(ownerId: string, afterStep = 0, limit = 1_000_000): MetricRow<T>[] {
    return this.db
      .query<{ step: number; body: string }>(
        'SELECT step, body FROM metrics WHERE owner_id = $1 AND step > $2 ORDER BY step LIMIT $3',
        [ownerId, afterStep, limit],
      )
      .rows.map((r) => ({ step: r.step, body: JSON.parse(r.body) as T }));
  }

  deleteMetrics(ownerId: string): void {
    this.db.query('DELETE FROM metrics WHERE owner_id = $1', [ownerId]);
  }

  transaction<T>(fn: () => T): T {
    // Nested calls join the outer transaction (as better-sqlite3's would, without savepoints).
    if (this.depth > 0) {
      this.depth++;
      try {
        return fn();
      } finally {
        this.depth--;
      }
    }
    this.db.query('BEGIN');
    this.depth = 1;
    try {
      const result = fn();
      this.db.query('COMMIT');
      return result;
    } catch (err) {
      try {
        this.db.query('ROLLBACK');
      } catch {
        // The connection is gone: so is the transaction.
      }
      throw err;
    } finally {
      this.depth = 0;
    }
  }

  progressTransaction<T>(fn: () => T): T {
    // PostgreSQL's commit is durable on its own server; a step lost with it is replayed from the checkpoint.
    return this.transaction(fn);
  }

  close(): void {
    this.db.close();
  }
}
