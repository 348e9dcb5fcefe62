// Interfaces of floe's stores. Services depend on these; SQLite and the local folder are the embedded
// implementations (a cluster can mount a shared volume for artifacts).

export interface StoredRecord<T> {
  /** Insertion order, increasing: the key of keyset paging (newest first = highest first). */
  seq: number;
  id: string;
  state: string;
  createdAt: number;
  updatedAt: number;
  body: T;
}

export interface ListOptions<T> {
  states?: string[];
  /** Only records older than this `seq` (the cursor of the previous page); unset: from the newest. */
  before?: number;
  limit?: number;
  /** Keeps only the records it accepts; pages fill with matches, so a filter never skips or repeats. */
  filter?: (body: T) => boolean;
}

export interface ListResult<T> {
  items: StoredRecord<T>[];
  /** Set when more records match: pass it as `before` for the next page. */
  next?: number;
}

/** The first answer to a state-changing request, kept so that a retry with its id gets it again. */
export interface StoredRequest {
  /** A hash of the request without its id: the same id with another request is refused. */
  fingerprint: string;
  response: unknown;
}

export interface MetricRow<T> {
  step: number;
  body: T;
}

/** Who holds a resource (a replica training a run) and until when, by the store's clock. */
export interface Lease {
  owner: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

/** Durable metadata of one service: resources (runs, studies) and per-step metrics. */
export interface MetadataStore {
  /**
   * True when several processes share this store (PostgreSQL in cluster mode): they coordinate through
   * leases; false for a process's own SQLite file.
   */
  readonly shared: boolean;
  /**
   * Takes (kind, id) for `owner` for `ttlMs` if it is free, expired or already the owner's; false when
   * another owner holds it. Atomic across processes.
   */
  acquireLease(kind: string, id: string, owner: string, ttlMs: number): boolean;
  /** Extends the owner's lease; false when it has lost it (expired and taken). */
  renewLease(kind: string, id: string, owner: string, ttlMs: number): boolean;
  releaseLease(kind: string, id: string, owner: string): void;
  leaseOf(kind: string, id: string): Lease | undefined;
  /** Inserts a record; throws if (kind, id) or (kind, requestId) exists. */
  create<T>(kind: string, id: string, state: string, body: T, requestId?: string): StoredRecord<T>;
  update<T>(kind: string, id: string, state: string, body: T): StoredRecord<T>;
  get<T>(kind: string, id: string): StoredRecord<T> | undefined;
  /** Removes a record (its request id is then free); false when there was none. */
  delete(kind: string, id: string): boolean;
  findByRequestId<T>(kind: string, requestId: string): StoredRecord<T> | undefined;
  /** Newest first, by keyset (stable under concurrent inserts: a new record never shifts a page). */
  list<T>(kind: string, opts?: ListOptions<T>): ListResult<T>;
  /** Records the answer to (method, requestId); false when one is recorded already (it is kept). */
  recordRequest(method: string, requestId: string, request: StoredRequest): boolean;
  findRequest(method: string, requestId: string): StoredRequest | undefined;
  /** Stores each step once: a step already stored is kept as it is. */
  appendMetrics<T>(ownerId: string, rows: MetricRow<T>[]): void;
  metrics<T>(ownerId: string, afterStep?: number, limit?: number): MetricRow<T>[];
  /** Removes every metric row of an owner. */
  deleteMetrics(ownerId: string): void;
  transaction<T>(fn: () => T): T;
  /**
   * A transaction for progress that can be recomputed (a run's step metrics, replayed from its last
   * checkpoint): it survives a killed process but is not synced to disk on its own — the next ordinary
   * commit syncs it. Keeps a sync per training step off the server's event loop.
   */
  progressTransaction<T>(fn: () => T): T;
  close(): void;
}

export interface ArtifactFile {
  name: string;
  size: number;
  sha256: string;
}

export interface ArtifactManifest {
  id: string;
  kind: string;
  createdAt: string;
  labels: Record<string, string>;
  files: ArtifactFile[];
}

export interface StoredArtifact {
  manifest: ArtifactManifest;
  /** sha256 of the manifest file. */
  sha256: string;
  sizeBytes: number;
}

/** Immutable artifacts (models, checkpoints) shared between services. */
export interface ArtifactStore {
  /** Writes all files, then publishes the artifact under `id` at once; never half-written. */
  put(
    kind: string,
    files: Record<string, Uint8Array>,
    opts?: { id?: string; labels?: Record<string, string> },
  ): Promise<StoredArtifact>;
  get(id: string): Promise<StoredArtifact | undefined>;
  /** Reads one file and checks its sha256. */
  readFile(id: string, name: string): Promise<Buffer>;
  list(kind?: string): Promise<StoredArtifact[]>;
  delete(id: string): Promise<void>;
}
