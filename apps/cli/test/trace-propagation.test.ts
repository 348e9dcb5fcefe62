// Two services in two processes, one calling the other through its generated client, both exporting to
// floe's own OTLP receiver: one trace, two service names, the server span a child of the client span.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startOtlpReceiver, type ReceivedSpan } from '@floe/telemetry/receiver';
import { Attr, MetricName, SpanName } from '@floe/telemetry';
import { freePort, tempDir, waitServing } from '@floe/testing';

const root = new URL('../../..', import.meta.url).pathname;
const SERVER = 2;
const CLIENT = 3;

test('a call from one service to another joins one trace across processes', { timeout: 60_000 }, async () => {
  const home = tempDir();
  const spansFile = join(home.path, 'spans.jsonl');
  const receiver = await startOtlpReceiver({ file: spansFile });
  const address = `127.0.0.1:${await freePort()}`;
  const env = {
    ...process.env,
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://${receiver.address}`,
    FLOE_HOME: home.path,
    FLOE_LOG_LEVEL: 'warn',
  };
  const trainer = spawn(process.execPath, ['apps/cli/bin/floe.js', 'up'], {
    cwd: root,
    env: { ...env, FLOE_ADDRESS: address, FLOE_SERVICES: 'trainer' },
    stdio: 'ignore',
  });
  const trainerExit = new Promise<number | null>((resolve) => trainer.on('exit', resolve));
  try {
    await waitServing(address, 20_000);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'apps/cli/test/fixtures/caller.ts', address],
      { cwd: root, env },
    );
    assert.match(stdout, /code=5/, 'the caller got NOT_FOUND from the trainer');
    trainer.kill('SIGTERM');
    assert.equal(await trainerExit, 0);

    const spans = readFileSync(spansFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ReceivedSpan);
    const clientSpan = spans.find((s) => s.kind === CLIENT && s.name === 'floe.trainer.v1.TrainerService/GetRun');
    const serverSpan = spans.find((s) => s.kind === SERVER && s.name === 'floe.trainer.v1.TrainerService/GetRun');
    const studySpan = spans.find((s) => s.name === SpanName.studySegment);
    assert.ok(
      clientSpan && serverSpan && studySpan,
      `spans: ${spans.map((s) => `${s.resource['service.name']}:${s.name}`).join(', ')}`,
    );
    assert.equal(serverSpan.traceId, clientSpan.traceId);
    assert.equal(clientSpan.traceId, studySpan.traceId);
    assert.equal(serverSpan.parentSpanId, clientSpan.spanId);
    assert.equal(clientSpan.parentSpanId, studySpan.spanId);
    assert.equal(clientSpan.resource['service.name'], 'floe-hpo-surrogate');
    // Metrics go to the same endpoint: the trainer's process exported its GetRun call (NOT_FOUND) as it stopped.
    const served = receiver.metrics.filter(
      (m) =>
        m.name === MetricName.rpcServerCallDuration &&
        m.resource['service.name'] === 'floe-trainer' &&
        m.attributes[Attr.rpcMethod] === 'GetRun' &&
        m.attributes[Attr.rpcStatusCode] === 5,
    );
    assert.ok(served.length > 0 && served.at(-1)!.count! >= 1, JSON.stringify(receiver.metrics.map((m) => m.name)));
    assert.ok(served.at(-1)!.sum! > 0 && served.at(-1)!.unit === 's');
    assert.equal(serverSpan.resource['service.name'], 'floe-trainer');
    assert.equal(serverSpan.attributes['rpc.grpc.status_code'], 5);
  } finally {
    trainer.kill('SIGKILL');
    await receiver.close();
    home.remove();
  }
});
