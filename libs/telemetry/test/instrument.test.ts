import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTelemetry } from '../src/sdk.js';
import { Attr, SpanName, instrument } from '../src/index.js';

test('instrument() opens one span per phase, nests them, and marks failures', async () => {
  const telemetry = startTelemetry({ serviceName: 'floe-test', exporter: 'memory' });
  await instrument({ name: SpanName.trainSegment, attributes: { [Attr.runId]: 'run-1' } }, async () => {
    await instrument({ name: SpanName.checkpoint }, async () => {});
  });
  await assert.rejects(
    instrument({ name: SpanName.evaluate }, async () => {
      throw new Error('boom');
    }),
  );
  await telemetry.flush();
  const spans = telemetry.memory!.getFinishedSpans();
  const byName = new Map(spans.map((s) => [s.name, s]));
  const train = byName.get(SpanName.trainSegment)!;
  const ckpt = byName.get(SpanName.checkpoint)!;
  assert.equal(train.attributes[Attr.runId], 'run-1');
  assert.equal(ckpt.parentSpanContext?.spanId, train.spanContext().spanId);
  assert.equal(byName.get(SpanName.evaluate)!.status.code, 2);
  assert.equal(train.resource.attributes['service.name'], 'floe-test');
  await telemetry.shutdown();
});
