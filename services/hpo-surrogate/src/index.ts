export { createHpoSurrogateService, toParameterSpecs } from './service.js';
