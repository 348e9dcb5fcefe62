export { createHpoSurrogateService } from './service.js';
export { toParameterSpecs } from './convert.js';
export { StudyManager } from './study-manager.js';
