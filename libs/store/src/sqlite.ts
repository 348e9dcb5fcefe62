// SQLite metadata store: WAL, versioned migrations, and a small record model (one row per resource with
// its state and JSON body; metrics keyed by (run, step) so a replayed step is stored once).
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ListOptions, ListResult, MetadataStore, MetricRow, StoredRecord } from './types.js';

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

export class SqliteMetadataStore implements MetadataStore {
  private readonly db: Database.Database;
  private readonly stmts;

  constructor(file: string) {
    this.db = openSqlite(file);
    this.stmts = {
      get: this.db.prepare('SELECT body, state, created_at, updated_at FROM records WHERE kind = ? AND id = ?'),
      byRequest: this.db.prepare('SELECT id FROM records WHERE kind = ? AND request_id = ?'),
      insert: this.db.prepare(
        'INSERT INTO records (kind, id, state, request_id, created_at, updated_at, body) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      update: this.db.prepare('UPDATE records SET state = ?, updated_at = ?, body = ? WHERE kind = ? AND id = ?'),
      putMetric: this.db.prepare('INSERT INTO metrics (owner_id, step, body) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
      metrics: this.db.prepare('SELECT step, body FROM metrics WHERE owner_id = ? AND step > ? ORDER BY step LIMIT ?'),
    };
  }

  create<T>(kind: string, id: string, state: string, body: T, requestId?: string): StoredRecord<T> {
    const now = Date.now();
    this.stmts.insert.run(kind, id, state, requestId || null, now, now, JSON.stringify(body));
    return { id, state, createdAt: now, updatedAt: now, body };
  }

  update<T>(kind: string, id: string, state: string, body: T): StoredRecord<T> {
    const now = Date.now();
    const info = this.stmts.update.run(state, now, JSON.stringify(body), kind, id);
    if (info.changes === 0) throw new Error(`${kind} ${id} does not exist`);
    return this.get<T>(kind, id)!;
  }

  get<T>(kind: string, id: string): StoredRecord<T> | undefined {
    const row = this.stmts.get.get(kind, id) as
      { body: string; state: string; created_at: number; updated_at: number } | undefined;
    return (
      row && {
        id,
        state: row.state,
        createdAt: row.created_at,
        updatedAt: row.updated_at,
        body: JSON.parse(row.body) as T,
      }
    );
  }

  findByRequestId<T>(kind: string, requestId: string): StoredRecord<T> | undefined {
    const row = this.stmts.byRequest.get(kind, requestId) as { id: string } | undefined;
    return row && this.get<T>(kind, row.id);
  }

  list<T>(kind: string, opts: ListOptions = {}): ListResult<T> {
    const where = ['kind = ?'];
    const args: unknown[] = [kind];
    if (opts.states?.length) {
      where.push(`state IN (${opts.states.map(() => '?').join(',')})`);
      args.push(...opts.states);
    }
    const limit = opts.limit ?? 50;
    const offset = opts.offset ?? 0;
    const rows = this.db
      .prepare(
        `SELECT id, state, created_at, updated_at, body FROM records WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`,
      )
      .all(...args, limit + 1, offset) as {
      id: string;
      state: string;
      created_at: number;
      updated_at: number;
      body: string;
    }[];
    return {
      items: rows.slice(0, limit).map((r) => ({
        id: r.id,
        state: r.state,
        createdAt: r.created_at,
        updatedAt: r.updated_at,
        body: JSON.parse(r.body) as T,
      })),
      hasMore: rows.length > limit,
    };
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

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
