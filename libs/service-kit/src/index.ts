export {
  loadConfig,
  ConfigError,
  ALL_SERVICES,
  CONFIG_VARIABLES,
  peerAddressVariable,
  type FloeConfig,
  type LogLevel,
} from './config.js';
export { Peers } from './peers.js';
export { createLogger, type Logger } from './logger.js';
export { toServiceError, fieldViolations, fromPeerError, STATUS_DETAILS_KEY } from './errors.js';
export { Validator, validate, MAX_STRING_LENGTH } from './validate.js';
export { defineService, type CallContext, type HostedService, type ServiceHandlers } from './rpc.js';
export { startServer, serverOptions, type FloeServer } from './server.js';
export { createClient, call, collect, type ClientConstructor } from './client.js';
export { decodePageToken, encodePageToken, pageSize } from './paging.js';
export { checkModelRef, checkDatasetRef, checkPlan, checkPage, datasetSplit } from './common-validators.js';
export {
  serviceMain,
  composeServices,
  processServiceName,
  type ServiceContext,
  type ServiceEntry,
  type TelemetryStarter,
} from './main.js';
export { withEvents, withProgress, yieldToEventLoop, type ProgressReport } from './progress.js';
export { modelSource, trainerRunResolver, type PlainModelSource } from './model-refs.js';
export { Topic, follow } from './topic.js';
export {
  SCOPES,
  NO_SECURITY,
  authInterceptor,
  channelCredentials,
  parseTokens,
  requiredScope,
  serverCredentials,
  tokenInterceptor,
  type Scope,
  type SecurityConfig,
  type TokenEntry,
} from './security.js';
