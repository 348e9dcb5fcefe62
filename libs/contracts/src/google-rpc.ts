// The vendored google.rpc messages used for rich errors (grpc-status-details-bin).
export { Status } from './gen/google/rpc/status.js';
export {
  BadRequest,
  BadRequest_FieldViolation,
  ErrorInfo,
  ResourceInfo,
  PreconditionFailure,
} from './gen/google/rpc/error_details.js';
export { Any } from './gen/google/protobuf/any.js';
