// @floe/client: floe's typed client for platform teams (depends on the contracts only).
export { FloeClient, type ClientOptions, type CallOptions, type ServiceApi } from './client.js';
export { FloeApiError, type FieldViolation } from './errors.js';
export {
  adapt,
  memoryJournal,
  ADAPT_STAGES,
  readableNumber,
  type AdaptRequest,
  type AdaptResult,
  type AdaptEvent,
  type AdaptJournal,
  type AdaptStage,
  type StageStatus,
  type CurvePoint,
} from './adapt.js';
// The contracts' messages and enums, for building requests and reading answers (bundled in the package).
export {
  commonV1,
  dataProfilerV1,
  evaluatorV1,
  explainerV1,
  hpoSurrogateV1,
  trainerV1,
  SERVICE_NAMES,
  type ServiceName,
} from '@floe/contracts';
