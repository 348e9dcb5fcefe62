export type {
  ArtifactFile,
  ArtifactManifest,
  ArtifactStore,
  Lease,
  ListOptions,
  ListResult,
  MetadataStore,
  MetricRow,
  StoredArtifact,
  StoredRecord,
  StoredRequest,
} from './types.js';
export { SqliteMetadataStore, openSqlite, MIGRATIONS, type Migration } from './sqlite.js';
export { LocalArtifactStore, writeFileAtomic, newArtifactId } from './artifacts.js';
export { floeDirs, type FloeDirs } from './paths.js';
export { RequestLog, type Idempotent, type JsonCodec } from './request-log.js';
export { PostgresMetadataStore, SyncPostgres, PostgresError, PG_MIGRATIONS } from './postgres.js';
export { openMetadataStore } from './open.js';
