// The committed PFN weights (written by `npm run train:surrogate`, which reproduces them from its seed):
// libs/surrogate/weights/<name>.bin (float32, little-endian, in the model's parameter order) and
// <name>.json (config, seed, steps, wall time, sha256).
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { CurvePfn, type PfnConfig } from './pfn.js';

export const DEFAULT_PFN = 'ft-pfn';

export interface PfnMeta {
  config: PfnConfig;
  parameters: number;
  steps: number;
  seed: number;
  wall_seconds: number;
  held_out_nll: number;
  sha256: string;
}

/** A committed model by name, or any trained one by its path without the extension (one with a "/"). */
const weightsUrl = (name: string, ext: string) =>
  name.includes('/') ? new URL(`file://${name}.${ext}`) : new URL(`../weights/${name}.${ext}`, import.meta.url);

export function readPfnMeta(name = DEFAULT_PFN): PfnMeta {
  return JSON.parse(readFileSync(weightsUrl(name, 'json'), 'utf8')) as PfnMeta;
}

/** The trained surrogate; throws when the files are missing or do not match their recorded sha256. */
export function loadPfn(name = DEFAULT_PFN): { model: CurvePfn; meta: PfnMeta } {
  const meta = readPfnMeta(name);
  const bytes = readFileSync(weightsUrl(name, 'bin'));
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== meta.sha256)
    throw new Error(`surrogate weights ${name}.bin do not match their sha256 (${sha} ≠ ${meta.sha256})`);
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return { model: CurvePfn.fromBuffer(meta.config, data), meta };
}
