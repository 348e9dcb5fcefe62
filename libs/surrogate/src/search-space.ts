// Search spaces: validation, encoding to [0, 1]^d (what the surrogate sees) and random sampling.
import type { Rng } from '@floe/random';

export type Domain =
  /** `logOneMinus`: uniform in log(1 − x), for parameters whose distance from 1 spans decades (Adam's β2). */
  | { kind: 'float'; min: number; max: number; log: boolean; logOneMinus?: boolean }
  | { kind: 'int'; min: number; max: number; log: boolean }
  | { kind: 'categorical'; choices: string[] };

export interface ParameterSpec {
  name: string;
  domain: Domain | undefined;
}

export type Value = number | string;
export type Configuration = Record<string, Value>;

export interface Problem {
  field: string;
  description: string;
}

export const MAX_PARAMETERS = 64;
const NAME = /^[A-Za-z_][A-Za-z0-9_.]{0,127}$/;

/** Every problem of a space, each with its field path (`search_space.parameters[i]...`). */
export function validateSearchSpace(params: ParameterSpec[], prefix = 'search_space'): Problem[] {
  const problems: Problem[] = [];
  const at = (i: number, rest = '') => `${prefix}.parameters[${i}]${rest}`;
  if (params.length === 0)
    problems.push({ field: `${prefix}.parameters`, description: 'needs at least one parameter' });
  if (params.length > MAX_PARAMETERS)
    problems.push({ field: `${prefix}.parameters`, description: `has more than ${MAX_PARAMETERS} parameters` });
  const seen = new Set<string>();
  params.slice(0, MAX_PARAMETERS).forEach((p, i) => {
    if (!NAME.test(p.name))
      problems.push({
        field: at(i, '.name'),
        description: 'must be an identifier (letters, digits, "_", "."), at most 128 characters',
      });
    else if (seen.has(p.name))
      problems.push({ field: at(i, '.name'), description: `duplicates ${JSON.stringify(p.name)}` });
    seen.add(p.name);
    const d = p.domain;
    if (!d) {
      problems.push({ field: at(i), description: 'needs a domain (float_range, int_range or categorical)' });
      return;
    }
    if (d.kind === 'categorical') {
      const f = at(i, '.categorical.choices');
      if (d.choices.length === 0) problems.push({ field: f, description: 'needs at least one choice' });
      if (d.choices.length > 1000) problems.push({ field: f, description: 'has more than 1000 choices' });
      if (new Set(d.choices).size !== d.choices.length)
        problems.push({ field: f, description: 'has duplicate choices' });
      if (d.choices.some((c) => c.length === 0 || c.length > 256))
        problems.push({ field: f, description: 'choices must be 1–256 characters' });
      return;
    }
    const f = at(i, d.kind === 'float' ? '.float_range' : '.int_range');
    if (!Number.isFinite(d.min)) problems.push({ field: `${f}.min`, description: 'must be a finite number' });
    if (!Number.isFinite(d.max)) problems.push({ field: `${f}.max`, description: 'must be a finite number' });
    if (Number.isFinite(d.min) && Number.isFinite(d.max)) {
      if (d.kind === 'float' ? d.max <= d.min : d.max < d.min)
        problems.push({ field: `${f}.max`, description: `must be ${d.kind === 'float' ? '>' : '>='} min` });
      if (d.log && d.min <= 0) problems.push({ field: `${f}.min`, description: 'must be > 0 on a log scale' });
    }
    if (d.kind === 'float' && d.logOneMinus) {
      if (d.log) problems.push({ field: `${f}.log_one_minus`, description: 'cannot be combined with log_scale' });
      if (d.max >= 1) problems.push({ field: `${f}.max`, description: 'must be < 1 on a log(1 − x) scale' });
    }
  });
  return problems;
}

/** Dimensions of the [0, 1]^d encoding the decision rules read (encodeForSurrogate): one per parameter. */
export function encodedDimensions(params: ParameterSpec[]): number {
  return params.length;
}

type NumericDomain = Exclude<Domain, { kind: 'categorical' }>;

/** The domain's scale as an increasing function: x itself, log x, or −log(1 − x). */
function warp(d: NumericDomain, x: number): number {
  if (d.kind === 'float' && d.logOneMinus) return -Math.log(1 - x);
  return d.log ? Math.log(x) : x;
}

function unwarp(d: NumericDomain, w: number): number {
  if (d.kind === 'float' && d.logOneMinus) return 1 - Math.exp(-w);
  return d.log ? Math.exp(w) : w;
}

/** A value's position in its range on the domain's scale, clipped to [0, 1]. */
function valueToUnit(d: NumericDomain, x: number): number {
  const lo = warp(d, d.min);
  const u = (warp(d, x) - lo) / (warp(d, d.max) - lo || 1);
  return Math.min(1, Math.max(0, u));
}

function unitToValue(d: NumericDomain, u: number): number {
  const lo = warp(d, d.min);
  const x = unwarp(d, lo + u * (warp(d, d.max) - lo));
  if (d.kind === 'int') return Math.min(d.max, Math.max(d.min, Math.round(x)));
  return Math.min(d.max, Math.max(d.min, x));
}

/** A configuration drawn uniformly on each parameter's scale (log-uniformly on log scales). */
export function sampleConfiguration(params: ParameterSpec[], rng: Rng): Configuration {
  const out: Configuration = {};
  for (const p of params) {
    const d = p.domain!;
    out[p.name] = d.kind === 'categorical' ? d.choices[rng.int(d.choices.length)]! : unitToValue(d, rng.next());
  }
  return out;
}

/**
 * A configuration's identity: its values in the space's order. Two trials with the same key train the same
 * run (the trainer is deterministic for a template and seed), so a second one is wasted budget.
 */
export function configurationKey(params: ParameterSpec[], config: Configuration): string {
  return JSON.stringify(params.map((p) => config[p.name] ?? null));
}

/** How many configurations a space holds: finite when every parameter is an int range or a categorical. */
export function spaceSize(params: ParameterSpec[]): number {
  let size = 1;
  for (const p of params) {
    const d = p.domain!;
    size *= d.kind === 'categorical' ? d.choices.length : d.kind === 'int' ? d.max - d.min + 1 : Infinity;
  }
  return size;
}

/** Every configuration of a finite space, the last parameter varying fastest. */
function enumerateConfigurations(params: ParameterSpec[]): Configuration[] {
  let out: Configuration[] = [{}];
  for (const p of params) {
    const d = p.domain!;
    const values =
      d.kind === 'categorical' ? d.choices : Array.from({ length: d.max - d.min + 1 }, (_, k) => d.min + k);
    out = out.flatMap((c) => values.map((v) => ({ ...c, [p.name]: v })));
  }
  return out;
}

/** Finite spaces up to this size are enumerated to draw untried configurations; larger ones are sampled. */
const ENUMERATED_SPACE_MAX = 4096;
/** Draws per configuration wanted before sampling gives up on finding untried ones. */
const DRAWS_PER_CONFIGURATION = 8;

/**
 * Up to `count` configurations drawn uniformly that are neither in `tried` (keys, configurationKey) nor each
 * other; their keys are added to `tried`. Small finite spaces are drawn from their untried configurations
 * without replacement; otherwise draws repeat until `count` are found or DRAWS_PER_CONFIGURATION·count are
 * spent. On a float parameter draws practically never collide, so this is the plain uniform sample.
 */
export function sampleUntried(params: ParameterSpec[], rng: Rng, tried: Set<string>, count: number): Configuration[] {
  if (spaceSize(params) <= ENUMERATED_SPACE_MAX) {
    const untried = enumerateConfigurations(params).filter((c) => !tried.has(configurationKey(params, c)));
    const picked = rng.shuffle(untried).slice(0, count);
    for (const c of picked) tried.add(configurationKey(params, c));
    return picked;
  }
  const out: Configuration[] = [];
  for (let draw = 0; draw < DRAWS_PER_CONFIGURATION * count && out.length < count; draw++) {
    const c = sampleConfiguration(params, rng);
    const key = configurationKey(params, c);
    if (tried.has(key)) continue;
    tried.add(key);
    out.push(c);
  }
  return out;
}

/**
 * The configuration as the decision rules read it: one coordinate per parameter in [0, 1] (a categorical by
 * its choice's index), all of them. Where a space has more parameters than the PFN's inputs, ifBO picks which
 * ones it reads (pfnInputDimensions); folding them here would average unrelated parameters into one input.
 */
export function encodeForSurrogate(params: ParameterSpec[], config: Configuration): number[] {
  return params.map((p) => {
    const d = p.domain!;
    const v = config[p.name];
    if (d.kind === 'categorical')
      return d.choices.length > 1 ? Math.max(0, d.choices.indexOf(String(v))) / (d.choices.length - 1) : 0.5;
    return valueToUnit(d, Number(v));
  });
}

/**
 * A configuration near `config` (local search around the incumbent): each numeric parameter moves by
 * N(0, scale) on its [0, 1] (log) scale with probability 1/2; each categorical is redrawn with probability scale.
 */
export function perturbConfiguration(
  params: ParameterSpec[],
  config: Configuration,
  rng: Rng,
  scale = 0.1,
): Configuration {
  const u = encodeForSurrogate(params, config);
  const out: Configuration = {};
  params.forEach((p, i) => {
    const d = p.domain!;
    if (d.kind === 'categorical')
      out[p.name] = rng.next() < scale ? d.choices[rng.int(d.choices.length)]! : config[p.name]!;
    else if (rng.next() < 0.5) out[p.name] = unitToValue(d, Math.min(1, Math.max(0, u[i]! + rng.normal() * scale)));
    else out[p.name] = config[p.name]!;
  });
  return out;
}

/** Problems of a configuration against its space: a missing or unknown parameter, a value outside its domain. */
export function checkConfiguration(params: ParameterSpec[], config: Configuration, field: string): Problem[] {
  const problems: Problem[] = [];
  const names = new Set(params.map((p) => p.name));
  for (const name of Object.keys(config))
    if (!names.has(name))
      problems.push({
        field,
        description: `names ${JSON.stringify(name)}, which is not a parameter of the search space`,
      });
  for (const p of params) {
    const d = p.domain!;
    const v = config[p.name];
    if (v === undefined) problems.push({ field, description: `lacks parameter ${JSON.stringify(p.name)}` });
    else if (d.kind === 'categorical') {
      if (!d.choices.includes(String(v)))
        problems.push({ field, description: `${p.name}: ${JSON.stringify(v)} is not one of its choices` });
    } else if (
      typeof v !== 'number' ||
      !Number.isFinite(v) ||
      v < d.min ||
      v > d.max ||
      (d.kind === 'int' && !Number.isInteger(v))
    )
      problems.push({
        field,
        description: `${p.name}: ${String(v)} is outside [${d.min}, ${d.max}]${d.kind === 'int' ? ' or not an integer' : ''}`,
      });
  }
  return problems;
}
