// Local-folder artifact store. An artifact is a folder of files plus manifest.json (sha256 per file).
// It is written under a temporary name, every file and the folder fsynced, then renamed into place:
// a reader sees either the whole artifact or none of it.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { notFound, invalidArgument, FloeError } from '@floe/errors';
import type { ArtifactManifest, ArtifactStore, StoredArtifact } from './types.js';

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
const FILE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
const MANIFEST = 'manifest.json';

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

async function writeAndSync(path: string, data: Uint8Array): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes a file atomically: temp file in the same folder, fsync, rename, fsync the folder. */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const dir = join(path, '..');
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.tmp-${randomBytes(6).toString('hex')}`);
  try {
    await writeAndSync(tmp, data);
    await rename(tmp, path);
    await syncDir(dir);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export function newArtifactId(kind: string): string {
  return `${kind}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export class LocalArtifactStore implements ArtifactStore {
  constructor(private readonly root: string) {}

  private dir(id: string): string {
    if (!ID.test(id)) throw invalidArgument('artifact_id', 'must be 1–200 letters, digits, ".", "_" or "-"');
    return join(this.root, id);
  }

  async put(
    kind: string,
    files: Record<string, Uint8Array>,
    opts: { id?: string; labels?: Record<string, string> } = {},
  ): Promise<StoredArtifact> {
    const id = opts.id ?? newArtifactId(kind);
    const finalDir = this.dir(id);
    await mkdir(this.root, { recursive: true });
    const tmpDir = join(this.root, `.tmp-${id}-${randomBytes(4).toString('hex')}`);
    await mkdir(tmpDir);
    try {
      const manifest: ArtifactManifest = {
        id,
        kind,
        createdAt: new Date().toISOString(),
        labels: opts.labels ?? {},
        files: [],
      };
      for (const [name, data] of Object.entries(files)) {
        if (!FILE.test(name) || name === MANIFEST)
          throw invalidArgument('files', `bad file name ${JSON.stringify(name)}`);
        await writeAndSync(join(tmpDir, name), data);
        manifest.files.push({ name, size: data.byteLength, sha256: sha256(data) });
      }
      const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2));
      await writeAndSync(join(tmpDir, MANIFEST), manifestBytes);
      await syncDir(tmpDir);
      try {
        await rename(tmpDir, finalDir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOTEMPTY' || (err as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new FloeError('already_exists', `artifact ${id} already exists`);
        }
        throw err;
      }
      await syncDir(this.root);
      return { manifest, sha256: sha256(manifestBytes), sizeBytes: manifest.files.reduce((a, f) => a + f.size, 0) };
    } catch (err) {
      await rm(tmpDir, { recursive: true, force: true });
      throw err;
    }
  }

  async get(id: string): Promise<StoredArtifact | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(join(this.dir(id), MANIFEST));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const manifest = JSON.parse(bytes.toString('utf8')) as ArtifactManifest;
    return { manifest, sha256: sha256(bytes), sizeBytes: manifest.files.reduce((a, f) => a + f.size, 0) };
  }

  async readFile(id: string, name: string): Promise<Buffer> {
    const artifact = await this.get(id);
    if (!artifact) throw notFound('artifact', id);
    const entry = artifact.manifest.files.find((f) => f.name === name);
    if (!entry) throw notFound(`file of artifact ${id}`, name);
    const data = await readFile(join(this.dir(id), name));
    if (sha256(data) !== entry.sha256)
      throw new FloeError('failed_precondition', `artifact ${id} file ${name} is corrupt (sha256 mismatch)`);
    return data;
  }

  async list(kind?: string): Promise<StoredArtifact[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: StoredArtifact[] = [];
    for (const name of names) {
      if (name.startsWith('.') || !ID.test(name)) continue;
      const a = await this.get(name);
      if (a && (!kind || a.manifest.kind === kind)) out.push(a);
    }
    return out.sort((a, b) => b.manifest.createdAt.localeCompare(a.manifest.createdAt));
  }

  async delete(id: string): Promise<void> {
    const dir = this.dir(id);
    // Move it aside first so that a reader never sees a partly deleted artifact.
    const trash = join(this.root, `.del-${id}-${randomBytes(4).toString('hex')}`);
    try {
      await rename(dir, trash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound('artifact', id);
      throw err;
    }
    await rm(trash, { recursive: true, force: true });
  }

  /** Removes leftovers of writes that a crash interrupted. */
  async sweep(): Promise<number> {
    let names: string[] = [];
    try {
      names = await readdir(this.root);
    } catch {
      return 0;
    }
    let removed = 0;
    for (const name of names) {
      if (!name.startsWith('.tmp-') && !name.startsWith('.del-')) continue;
      const s = await stat(join(this.root, name)).catch(() => undefined);
      if (s) {
        await rm(join(this.root, name), { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  }
}
