import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, peerAddressVariable } from '../src/index.js';

test('defaults are documented values', () => {
  const c = loadConfig({});
  assert.equal(c.address, '127.0.0.1:50051');
  assert.ok(c.home.endsWith('.floe'));
  assert.deepEqual([...c.services].sort(), ['data-profiler', 'evaluator', 'explainer', 'hpo-surrogate', 'trainer']);
  assert.equal(c.maxConcurrentRuns, 1);
  assert.equal(c.tfBackend, 'auto');
  assert.deepEqual(c.peers, {});
});

test('a bad value fails fast and names the variable', () => {
  assert.throws(
    () => loadConfig({ FLOE_ADDRESS: 'nope' }),
    (e: Error) => e instanceof ConfigError && /FLOE_ADDRESS/.test(e.message),
  );
  assert.throws(() => loadConfig({ FLOE_ADDRESS: '127.0.0.1:70000' }), /FLOE_ADDRESS/);
  assert.throws(() => loadConfig({ FLOE_MAX_MESSAGE_BYTES: '12abc' }), /FLOE_MAX_MESSAGE_BYTES/);
  assert.throws(() => loadConfig({ FLOE_SERVICES: 'trainer,unknown' }), /FLOE_SERVICES/);
  assert.throws(() => loadConfig({ FLOE_LOG_LEVEL: 'loud' }), /FLOE_LOG_LEVEL/);
  assert.throws(() => loadConfig({ FLOE_THREADS: '0' }), /FLOE_THREADS/);
  assert.throws(() => loadConfig({ FLOE_THREADS: 'many' }), /FLOE_THREADS/);
  assert.throws(() => loadConfig({ FLOE_TF_BACKEND: 'gpu' }), /FLOE_TF_BACKEND.*auto, tensorflow, native, wasm, cpu/);
  assert.throws(() => loadConfig({ FLOE_TRAINER_ADDRESS: 'trainer' }), /FLOE_TRAINER_ADDRESS/);
  assert.throws(() => loadConfig({ FLOE_COMPUTE_PRIORITY: 'high' }), /FLOE_COMPUTE_PRIORITY.*idle, low, normal/);
});

test('compute threads yield as FLOE_COMPUTE_PRIORITY says: idle unless told', () => {
  assert.equal(loadConfig({}).computePriority, 'idle');
  assert.equal(loadConfig({ FLOE_COMPUTE_PRIORITY: 'low' }).computePriority, 'low');
  assert.equal(loadConfig({ FLOE_COMPUTE_PRIORITY: 'normal' }).computePriority, 'normal');
});

test('every service has its peer address variable, parsed once', () => {
  assert.equal(peerAddressVariable('data-profiler'), 'FLOE_DATA_PROFILER_ADDRESS');
  const c = loadConfig({ FLOE_DATA_PROFILER_ADDRESS: '10.0.0.2:50051', FLOE_EVALUATOR_ADDRESS: 'evaluator:7000' });
  assert.deepEqual(c.peers, { 'data-profiler': '10.0.0.2:50051', evaluator: 'evaluator:7000' });
});
