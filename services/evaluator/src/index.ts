export { createEvaluatorService } from './service.js';
