// A temporary folder for this library's tests; not @floe/testing's, which reads datasets through this library.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tempDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'floe-data-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
