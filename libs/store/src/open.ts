// The metadata store a service uses: PostgreSQL when a database URL is configured (cluster mode, one
// schema per service), else its own SQLite file under FLOE_HOME (the embedded default).
import { floeDirs } from './paths.js';
import { PostgresMetadataStore } from './postgres.js';
import { SqliteMetadataStore } from './sqlite.js';
import type { MetadataStore } from './types.js';

export function openMetadataStore(
  config: { home: string; databaseUrl?: string; databaseRetryMs?: number },
  service: string,
): MetadataStore {
  if (config.databaseUrl)
    return new PostgresMetadataStore(config.databaseUrl, service.replace(/-/g, '_'), {
      retryMs: config.databaseRetryMs,
    });
  return new SqliteMetadataStore(floeDirs(config.home).database(service));
}
