// Domain errors. Libs throw these (they know nothing of gRPC); service-kit maps each kind to its gRPC
// status code. The message is safe to show to callers; the cause is only logged.

export type ErrorKind =
  | 'invalid_argument'
  | 'not_found'
  | 'already_exists'
  | 'permission_denied'
  | 'failed_precondition'
  | 'resource_exhausted'
  | 'unavailable'
  | 'unimplemented'
  | 'cancelled'
  | 'deadline_exceeded';

/** One field that failed validation, named by its path in the request (e.g. `spec.batch_size`). */
export interface FieldViolation {
  field: string;
  description: string;
}

export class FloeError extends Error {
  readonly kind: ErrorKind;
  readonly violations: FieldViolation[];
  constructor(kind: ErrorKind, message: string, options: { violations?: FieldViolation[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FloeError';
    this.kind = kind;
    this.violations = options.violations ?? [];
  }
}

/** Bad input; carries every violation found, so callers can fix them all at once. */
export class InvalidArgumentError extends FloeError {
  constructor(violations: FieldViolation[], message?: string) {
    super('invalid_argument', message ?? violations.map((v) => `${v.field}: ${v.description}`).join('; '), {
      violations,
    });
  }
}

export const invalidArgument = (field: string, description: string): InvalidArgumentError =>
  new InvalidArgumentError([{ field, description }]);

export const notFound = (what: string, id: string): FloeError =>
  new FloeError('not_found', `${what} ${JSON.stringify(id)} not found`);

export const permissionDenied = (message: string): FloeError => new FloeError('permission_denied', message);

export const failedPrecondition = (message: string): FloeError => new FloeError('failed_precondition', message);

export const resourceExhausted = (message: string): FloeError => new FloeError('resource_exhausted', message);

export const unavailable = (message: string): FloeError => new FloeError('unavailable', message);

/** The only placeholder allowed: a capability that a later issue builds. Names what is missing. */
export const unimplemented = (capability: string): FloeError =>
  new FloeError('unimplemented', `not built yet: ${capability}`);

export function isFloeError(e: unknown): e is FloeError {
  return e instanceof FloeError;
}
