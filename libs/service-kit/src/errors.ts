// Maps errors to gRPC statuses: domain errors keep their code and message; INVALID_ARGUMENT carries a
// google.rpc.BadRequest in grpc-status-details-bin; anything unexpected is logged and answered with a
// generic INTERNAL, never with a stack trace.
import * as grpc from '@grpc/grpc-js';
import { FloeError, type ErrorKind, type FieldViolation } from '@floe/errors';
import { googleRpc } from '@floe/contracts';
import type { Logger } from './logger.js';

const CODE: Record<ErrorKind, grpc.status> = {
  invalid_argument: grpc.status.INVALID_ARGUMENT,
  not_found: grpc.status.NOT_FOUND,
  already_exists: grpc.status.ALREADY_EXISTS,
  permission_denied: grpc.status.PERMISSION_DENIED,
  failed_precondition: grpc.status.FAILED_PRECONDITION,
  resource_exhausted: grpc.status.RESOURCE_EXHAUSTED,
  unavailable: grpc.status.UNAVAILABLE,
  unimplemented: grpc.status.UNIMPLEMENTED,
  cancelled: grpc.status.CANCELLED,
  deadline_exceeded: grpc.status.DEADLINE_EXCEEDED,
};

const BAD_REQUEST_TYPE = 'type.googleapis.com/google.rpc.BadRequest';
export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';

/** Encodes a google.rpc.Status with a BadRequest detail. */
function statusDetails(code: grpc.status, message: string, violations: FieldViolation[]): Buffer {
  const badRequest = googleRpc.BadRequest.encode(
    googleRpc.BadRequest.fromPartial({ fieldViolations: violations }),
  ).finish();
  return Buffer.from(
    googleRpc.Status.encode({
      code,
      message,
      details: [{ typeUrl: BAD_REQUEST_TYPE, value: Buffer.from(badRequest) }],
    }).finish(),
  );
}

/** The status an error becomes on the wire. */
// Status message and details travel in HTTP/2 trailers, whose size is limited: keep them short.
const MAX_DETAILS_CHARS = 1000;
const MAX_VIOLATIONS = 20;
const clip = (s: string) => (s.length > MAX_DETAILS_CHARS ? s.slice(0, MAX_DETAILS_CHARS - 1) + '…' : s);

export function toServiceError(
  err: unknown,
  log?: Logger,
  method?: string,
): Partial<grpc.StatusObject> & { code: grpc.status } {
  if (err instanceof FloeError) {
    const code = CODE[err.kind];
    const metadata = new grpc.Metadata();
    const violations = err.violations
      .slice(0, MAX_VIOLATIONS)
      .map((v) => ({ field: clip(v.field), description: clip(v.description) }));
    const details = clip(err.message);
    if (violations.length) metadata.set(STATUS_DETAILS_KEY, statusDetails(code, details, violations));
    if (err.cause) log?.warn('call failed', { method, code: grpc.status[code], cause: err.cause });
    return { code, details, metadata };
  }
  if (isStatusLike(err)) return err;
  log?.error('unexpected error', { method, err });
  return {
    code: grpc.status.INTERNAL,
    details: 'internal error; the server log has the cause',
    metadata: new grpc.Metadata(),
  };
}

function isStatusLike(err: unknown): err is { code: grpc.status; details: string; metadata: grpc.Metadata } {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { code?: unknown }).code === 'number' &&
    'details' in err &&
    'metadata' in err &&
    !(err instanceof Error)
  );
}

/** Reads the BadRequest field violations from an error a client received (for tests and the CLI). */
export function fieldViolations(err: { metadata?: grpc.Metadata }): FieldViolation[] {
  const raw = err.metadata?.get(STATUS_DETAILS_KEY)?.[0];
  if (!raw || typeof raw === 'string') return [];
  const status = googleRpc.Status.decode(raw);
  return status.details
    .filter((d) => d.typeUrl === BAD_REQUEST_TYPE)
    .flatMap((d) =>
      googleRpc.BadRequest.decode(d.value).fieldViolations.map((v) => ({ field: v.field, description: v.description })),
    );
}

const KIND_OF_CODE: Partial<Record<grpc.status, ErrorKind>> = {
  [grpc.status.INVALID_ARGUMENT]: 'invalid_argument',
  [grpc.status.NOT_FOUND]: 'not_found',
  [grpc.status.ALREADY_EXISTS]: 'already_exists',
  [grpc.status.PERMISSION_DENIED]: 'permission_denied',
  [grpc.status.FAILED_PRECONDITION]: 'failed_precondition',
  [grpc.status.RESOURCE_EXHAUSTED]: 'resource_exhausted',
  [grpc.status.UNIMPLEMENTED]: 'unimplemented',
  [grpc.status.CANCELLED]: 'cancelled',
  [grpc.status.DEADLINE_EXCEEDED]: 'deadline_exceeded',
};

/**
 * An error from a peer service, passed on to our caller with the same meaning: the peer's NOT_FOUND is
 * ours too, prefixed with the field of our request it concerns; anything unexpected is UNAVAILABLE.
 */
export function fromPeerError(err: unknown, field: string): FloeError {
  const code = (err as { code?: unknown }).code;
  const details = (err as { details?: string }).details ?? (err as Error).message;
  const kind = typeof code === 'number' ? (KIND_OF_CODE[code as grpc.status] ?? 'unavailable') : 'unavailable';
  return new FloeError(kind, `${field}: ${details}`, { cause: err });
}
