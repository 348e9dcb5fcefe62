export { createHpoSurrogateService } from './service.js';
export { toParameterSpecs } from './convert.js';
export { StudyManager } from './study-manager.js';
export { MAX_FAILED_IN_A_ROW } from './study-runner.js';
