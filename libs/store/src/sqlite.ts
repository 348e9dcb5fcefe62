// SQLite metadata store: WAL, versioned migrations, and a small record model (one row per resource with
// its state and JSON body; metrics keyed by (run, step) so a replayed step is stored once).
import Database from 'better-sqlite3';
import { pageByKeyset } from './keyset.js';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Lease, ListOptions, ListResult, MetadataStore, MetricRow, StoredRecord, StoredRequest } from './types.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The store's own schema. Append new versions; never edit a released one. */
export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'records and metrics',
    sql: `
      CREATE TABLE records (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT '',
        request_id TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (kind, id)
      );
      CREATE UNIQUE INDEX records_request ON records (kind, request_id) WHERE request_id IS NOT NULL;
      CREATE INDEX records_list ON records (kind, created_at DESC, id DESC);
      CREATE TABLE metrics (
        owner_id TEXT NOT NULL,
        step INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (owner_id, step)
      ) WITHOUT ROWID;
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
        created_at INTEGER NOT NULL,
        PRIMARY KEY (method, request_id)
      ) WITHOUT ROWID;
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
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (kind, id)
      ) WITHOUT ROWID;
    `,
  },
];

export function openSqlite(file: string, migrations: Migration[] = MIGRATIONS): Database.Database {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // FULL syncs the WAL on every commit: a committed row survives a kill or a power loss.
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  const current = db.pragma('user_version', { simple: true }) as number;
  const known = Math.max(0, ...migrations.map((m) => m.version));
  if (current > known) {
    db.close();
    throw new Error(`${file} has schema version ${current}, newer than this floe (${known}); refusing to open it`);
  }
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
  return db;
}

type Row = { rowid: number; state: string; created_at: number; updated_at: number; body: string };

function toRecord<T>(r: Row & { id: string }): StoredRecord<T> {
  return {
    seq: r.rowid,
    id: r.id,
    state: r.state,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    body: JSON.parse(r.body) as T,
  };
}

export class SqliteMetadataStore implements MetadataStore {
  private readonly db: Database.Database;
  private readonly stmts;

  constructor(file: string) {
    this.db = openSqlite(file);
    this.stmts = {
      get: this.db.prepare('SELECT rowid, body, state, created_at, updated_at FROM records WHERE kind = ? AND id = ?'),
      putRequest: this.db.prepare(
        'INSERT INTO requests (method, request_id, fingerprint, response, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      getRequest: this.db.prepare('SELECT fingerprint, response FROM requests WHERE method = ? AND request_id = ?'),
      byRequest: this.db.prepare('SELECT id FROM records WHERE kind = ? AND request_id = ?'),
      insert: this.db.prepare(
        'INSERT INTO records (kind, id, state, request_id, created_at, updated_at, body) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      update: this.db.prepare('UPDATE records SET state = ?, updated_at = ?, body = ? WHERE kind = ? AND id = ?'),
      putMetric: this.db.prepare('INSERT INTO metrics (owner_id, step, body) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
      metrics: this.db.prepare('SELECT step, body FROM metrics WHERE owner_id = ? AND step > ? ORDER BY step LIMIT ?'),
    };
  }

  /** One process owns its SQLite file (leases still work, within it). */
  readonly shared = false;

  acquireLease(kind: string, id: string, owner: string, ttlMs: number): boolean {
    const now = Date.now();
    const row = this.db
      .prepare(
        `INSERT INTO leases (kind, id, owner, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (kind, id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
         WHERE leases.owner = excluded.owner OR leases.expires_at < ?
         RETURNING owner`,
      )
      .get(kind, id, owner, now + ttlMs, now) as { owner: string } | undefined;
    return row?.owner === owner;
  }

  renewLease(kind: string, id: string, owner: string, ttlMs: number): boolean {
    const now = Date.now();
    return (
      this.db
        .prepare('UPDATE leases SET expires_at = ? WHERE kind = ? AND id = ? AND owner = ? AND expires_at >= ?')
        .run(now + ttlMs, kind, id, owner, now).changes > 0
    );
  }

  releaseLease(kind: string, id: string, owner: string): void {
    this.db.prepare('DELETE FROM leases WHERE kind = ? AND id = ? AND owner = ?').run(kind, id, owner);
  }

  leaseOf(kind: string, id: string): Lease | undefined {
    const row = this.db.prepare('SELECT owner, expires_at FROM leases WHERE kind = ? AND id = ?').get(kind, id) as
      { owner: string; expires_at: number } | undefined;
    return row && { owner: row.owner, expiresAt: row.expires_at };
  }

  create<T>(kind: string, id: string, state: string, body: T, requestId?: string): StoredRecord<T> {
    const now = Date.now();
    const info = this.stmts.insert.run(kind, id, state, requestId || null, now, now, JSON.stringify(body));
    return { seq: Number(info.lastInsertRowid), id, state, createdAt: now, updatedAt: now, body };
  }

  update<T>(kind: string, id: string, state: string, body: T): StoredRecord<T> {
    const now = Date.now();
    const info = this.stmts.update.run(state, now, JSON.stringify(body), kind, id);
    if (info.changes === 0) throw new Error(`${kind} ${id} does not exist`);
    return this.get<T>(kind, id)!;
  }

  get<T>(kind: string, id: string): StoredRecord<T> | undefined {
    const row = this.stmts.get.get(kind, id) as Row | undefined;
    return row && toRecord<T>({ ...row, id });
  }

  delete(kind: string, id: string): boolean {
    return this.db.prepare('DELETE FROM records WHERE kind = ? AND id = ?').run(kind, id).changes > 0;
  }

  findByRequestId<T>(kind: string, requestId: string): StoredRecord<T> | undefined {
    const row = this.stmts.byRequest.get(kind, requestId) as { id: string } | undefined;
    return row && this.get<T>(kind, row.id);
  }

  list<T>(kind: string, opts: ListOptions<T> = {}): ListResult<T> {
    const where = ['kind = ?'];
    const args: unknown[] = [kind];
    if (opts.states?.length) {
      where.push(`state IN (${opts.states.map(() => '?').join(',')})`);
      args.push(...opts.states);
    }
    // rowid grows with every insert (rows are never deleted), so it orders records by age and a page's
    // last rowid is a cursor that concurrent inserts (all newer) cannot move.
    const query = this.db.prepare(
      `SELECT rowid, id, state, created_at, updated_at, body FROM records WHERE ${where.join(' AND ')} AND rowid < ? ORDER BY rowid DESC LIMIT ?`,
    );
    return pageByKeyset(
      opts,
      (before, chunk) => query.all(...args, before, chunk) as (Row & { id: string })[],
      (r) => toRecord<T>(r),
    );
  }

  recordRequest(method: string, requestId: string, request: StoredRequest): boolean {
    const info = this.stmts.putRequest.run(
      method,
      requestId,
      request.fingerprint,
      JSON.stringify(request.response),
      Date.now(),
    );
    return info.changes > 0;
  }

  findRequest(method: string, requestId: string): StoredRequest | undefined {
    const row = this.stmts.getRequest.get(method, requestId) as { fingerprint: string; response: string } | undefined;
    return row && { fingerprint: row.fingerprint, response: JSON.parse(row.response) };
  }

  appendMetrics<T>(ownerId: string, rows: MetricRow<T>[]): void {
    this.db.transaction(() => {
      for (const r of rows) this.stmts.putMetric.run(ownerId, r.step, JSON.stringify(r.body));
    })();
  }

  metrics<T>(ownerId: string, afterStep = 0, limit = 1_000_000): MetricRow<T>[] {
    return (this.stmts.metrics.all(ownerId, afterStep, limit) as { step: number; body: string }[]).map((r) => ({
      step: r.step,
      body: JSON.parse(r.body) as T,
    }));
  }

  deleteMetrics(ownerId: string): void {
    this.db.prepare('DELETE FROM metrics WHERE owner_id = ?').run(ownerId);
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  progressTransaction<T>(fn: () => T): T {
    // Inside another transaction it joins that one (and its sync): the level cannot change mid-transaction.
    if (this.db.inTransaction) return this.db.transaction(fn)();
    // In WAL mode NORMAL skips the sync of this commit only; its frames reach the disk with the next FULL
    // commit's sync (or a checkpoint). A killed process loses nothing either way.
    this.db.pragma('synchronous = NORMAL');
    try {
      return this.db.transaction(fn)();
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
