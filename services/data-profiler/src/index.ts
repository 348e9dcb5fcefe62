export { createDataProfilerService } from './service.js';
