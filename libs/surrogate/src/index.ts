export * from './search-space.js';
