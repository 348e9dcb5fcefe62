import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../src/index.js';

test('defaults are documented values', () => {
  const c = loadConfig({});
  assert.equal(c.address, '127.0.0.1:50051');
  assert.ok(c.home.endsWith('.floe'));
  assert.deepEqual(c.services, ['data-profiler', 'trainer', 'hpo-surrogate', 'explainer', 'evaluator']);
  assert.equal(c.maxConcurrentRuns, 1);
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
});
