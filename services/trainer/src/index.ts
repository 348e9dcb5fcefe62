export { createTrainerService, checkRunSpec } from './service.js';
