// @floe/client: floe's typed client for platform teams (depends on the contracts only).
export { FloeClient, type ClientOptions, type CallOptions, type ServiceApi } from './client.js';
export { FloeApiError, type FieldViolation } from './errors.js';
export {
  adapt,
  memoryJournal,
  ADAPT_STAGES,
  type AdaptRequest,
  type AdaptResult,
  type AdaptEvent,
  type AdaptJournal,
  type AdaptStage,
  type StageStatus,
  type CurvePoint,
} from './adapt.js';
