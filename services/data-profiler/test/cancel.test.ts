// A cancelled call stops its work: the profile of one large document ends at the next slice after the caller
// cancels, not when the document is done (it used to check only between documents).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { startTelemetry } from '@floe/telemetry/sdk';
import { SpanName } from '@floe/telemetry';
import { dataProfilerV1 as dp } from '@floe/contracts';
import { collect, createClient, type FloeServer } from '@floe/service-kit';
import { quietLog, startTestServer, tempDir, testConfig } from '@floe/testing';
import { createDataProfilerService } from '../src/index.js';

const telemetry = startTelemetry({ serviceName: 'floe-data-profiler', exporter: 'memory' });
const home = tempDir();
const dataRoot = join(home.path, 'data');
let server: FloeServer;
let profiler: dp.DataProfilerServiceClient;

before(async () => {
  mkdirSync(dataRoot, { recursive: true });
  // One document of 48 MB: a second or more of profiling here.
  writeFileSync(join(dataRoot, 'big.txt'), 'many words in one long document\n'.repeat(1_500_000));
  const config = testConfig(home.path, { FLOE_DATA_ROOTS: dataRoot });
  server = await startTestServer([createDataProfilerService({ config, log: quietLog })], config);
  profiler = createClient(dp.DataProfilerServiceClient, server.address);
});

after(async () => {
  profiler.close();
  await server.shutdown();
  await telemetry.shutdown();
  home.remove();
});

async function profileSpan(after: number): Promise<ReadableSpan> {
  for (;;) {
    const span = telemetry.memory!.getFinishedSpans().filter((s) => s.name === SpanName.profile)[after];
    if (span) return span;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const epochMillis = (t: [number, number]) => t[0] * 1e3 + t[1] / 1e6;

test('a ProfileDataset cancelled inside one large document stops at its next slice', { timeout: 120_000 }, async () => {
  const request = {
    dataset: { uri: 'file:big.txt', split: 0, maxExamples: 0, targetColumn: '', ignoreColumns: [] },
    bins: 0,
  };
  // The whole profile, and when its document's profiling started (the load's progress event).
  const started = { at: 0 };
  const whole = profiler.profileDataset(request);
  whole.once('data', () => (started.at = Date.now()));
  await collect(whole);
  const wholeSpan = await profileSpan(0);
  assert.equal(wholeSpan.status.code, SpanStatusCode.OK);
  const profiling = epochMillis(wholeSpan.endTime) - started.at;

  const call = profiler.profileDataset(request);
  call.on('error', () => {}); // the client's own CANCELLED
  await new Promise((resolve) => call.once('data', resolve));
  const cancelledAt = Date.now();
  call.cancel();
  const span = await profileSpan(1);
  assert.equal(span.status.code, SpanStatusCode.ERROR);
  assert.match(span.status.message ?? '', /cancelled/);
  const lag = epochMillis(span.endTime) - cancelledAt;
  assert.ok(
    lag < 0.3 * profiling,
    `stopped ${lag.toFixed(0)} ms after the cancel; profiling the document takes ${profiling.toFixed(0)} ms`,
  );
});
