export { createExplainerService } from './service.js';
