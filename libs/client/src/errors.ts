// Errors from floe as typed exceptions: the gRPC status, its name, and the fields at fault that the
// server sent in google.rpc.BadRequest (grpc-status-details-bin).
import * as grpc from '@grpc/grpc-js';
import { googleRpc } from '@floe/contracts';

export interface FieldViolation {
  /** The field path, e.g. "spec.batch_size". */
  field: string;
  description: string;
}

export class FloeApiError extends Error {
  /** The gRPC status code. */
  readonly code: grpc.status;
  /** Its name, e.g. "INVALID_ARGUMENT". */
  readonly codeName: string;
  /** The server's message. */
  readonly details: string;
  /** Every field the server named as wrong (INVALID_ARGUMENT and FAILED_PRECONDITION). */
  readonly violations: FieldViolation[];
  /** The service that answered. */
  readonly service: string;

  constructor(code: grpc.status, details: string, violations: FieldViolation[], service: string) {
    super(`${service}: ${grpc.status[code] ?? code}: ${details}`);
    this.name = 'FloeApiError';
    this.code = code;
    this.codeName = grpc.status[code] ?? String(code);
    this.details = details;
    this.violations = violations;
    this.service = service;
  }

  /** The error of a failed call, with the BadRequest violations decoded from its trailers. */
  static from(err: grpc.ServiceError | FloeApiError, service: string): FloeApiError {
    if (err instanceof FloeApiError) return err;
    const violations: FieldViolation[] = [];
    const raw = err.metadata?.get('grpc-status-details-bin')[0];
    if (raw instanceof Buffer) {
      try {
        for (const any of googleRpc.Status.decode(raw).details)
          if (any.typeUrl.endsWith('/google.rpc.BadRequest'))
            for (const v of googleRpc.BadRequest.decode(any.value).fieldViolations)
              violations.push({ field: v.field, description: v.description });
      } catch {
        // Details that do not decode leave the status and message as they are.
      }
    }
    return new FloeApiError(err.code ?? grpc.status.UNKNOWN, err.details ?? err.message, violations, service);
  }
}
