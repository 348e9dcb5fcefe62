// Request validation: collect every violation with its field path (proto names, e.g. `spec.batch_size`),
// then throw one INVALID_ARGUMENT that names them all.
import { InvalidArgumentError, type FieldViolation } from '@floe/errors';

/** Longest string accepted in any field unless a check says otherwise. */
export const MAX_STRING_LENGTH = 4096;
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class Validator {
  readonly violations: FieldViolation[] = [];

  add(field: string, description: string): this {
    this.violations.push({ field, description });
    return this;
  }

  check(ok: boolean, field: string, description: string): boolean {
    if (!ok) this.add(field, description);
    return ok;
  }

  /** A string that is not too long; with `required`, not empty. */
  string(field: string, value: string | undefined, opts: { required?: boolean; max?: number } = {}): boolean {
    const max = opts.max ?? MAX_STRING_LENGTH;
    if (value === undefined || value === '') return this.check(!opts.required, field, 'is required');
    return this.check(value.length <= max, field, `is longer than ${max} characters`);
  }

  /** An id such as a run or study id: letters, digits, '.', '_' and '-', at most 128 characters. */
  id(field: string, value: string | undefined): boolean {
    if (!value) return this.check(false, field, 'is required');
    return this.check(ID_PATTERN.test(value), field, 'must be 1–128 letters, digits, ".", "_" or "-"');
  }

  /** A finite number within [min, max]; `exclusiveMin` excludes the lower bound. */
  number(
    field: string,
    value: number | undefined,
    opts: { min?: number; max?: number; exclusiveMin?: boolean; exclusiveMax?: boolean; integer?: boolean } = {},
  ): boolean {
    const v = value ?? 0;
    if (!Number.isFinite(v)) return this.check(false, field, 'must be a finite number');
    if (opts.integer && !Number.isInteger(v)) return this.check(false, field, 'must be an integer');
    if (opts.min !== undefined && (opts.exclusiveMin ? v <= opts.min : v < opts.min)) {
      return this.check(false, field, `must be ${opts.exclusiveMin ? '>' : '>='} ${opts.min}`);
    }
    if (opts.max !== undefined && (opts.exclusiveMax ? v >= opts.max : v > opts.max))
      return this.check(false, field, `must be ${opts.exclusiveMax ? '<' : '<='} ${opts.max}`);
    return true;
  }

  /** An enum value that the contract defines; zero (UNSPECIFIED) only when `allowUnspecified`. */
  enumValue(
    field: string,
    value: number | undefined,
    enumObject: object,
    opts: { allowUnspecified?: boolean } = {},
  ): boolean {
    const v = value ?? 0;
    const known = Object.values(enumObject).filter((x): x is number => typeof x === 'number' && x >= 0);
    if (!known.includes(v)) return this.check(false, field, `unknown value ${v}`);
    if (v === 0 && !opts.allowUnspecified) return this.check(false, field, 'is required (UNSPECIFIED is not allowed)');
    return true;
  }

  /** At most `max` items. */
  count(field: string, items: readonly unknown[] | undefined, max: number, min = 0): boolean {
    const n = items?.length ?? 0;
    if (n < min) return this.check(false, field, `needs at least ${min} item(s)`);
    return this.check(n <= max, field, `has more than ${max} items`);
  }

  get ok(): boolean {
    return this.violations.length === 0;
  }

  /** Throws INVALID_ARGUMENT naming every violation, if there is any. */
  throwIfInvalid(): void {
    if (this.violations.length) throw new InvalidArgumentError(this.violations);
  }
}

/** Runs `fill` on a fresh validator and throws if it found anything. */
export function validate(fill: (v: Validator) => void): void {
  const v = new Validator();
  fill(v);
  v.throwIfInvalid();
}
