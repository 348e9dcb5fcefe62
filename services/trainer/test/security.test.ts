// The doors, on a real trainer server: bearer tokens with scopes checked on every RPC (health open by
// default), TLS with certificates made by openssl for this run, mutual TLS, a wrong CA refused, a rotated
// certificate picked up without a restart, and bad settings stopping the process at start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { trainerV1 } from '@floe/contracts';
import { ConfigError, call, createClient, type FloeServer } from '@floe/service-kit';
import {
  freePort,
  healthStatus,
  makeCertificates,
  quietLog,
  rejectsWith,
  startTestServer,
  tempDir,
  testConfig,
} from '@floe/testing';
import { createTrainerService } from '../src/index.js';

const TOKENS = JSON.stringify([
  { name: 'dashboard', token: 'read-token-0123456789', scopes: ['read'] },
  { name: 'pipeline', token: 'train-token-0123456789', scopes: ['train'] },
]);

async function withServer(env: NodeJS.ProcessEnv, fn: (server: FloeServer) => Promise<void>): Promise<void> {
  const home = tempDir();
  const config = testConfig(home.path, env);
  const server = await startTestServer([createTrainerService({ config, log: quietLog })], config);
  try {
    await fn(server);
  } finally {
    await server.shutdown();
    home.remove();
  }
}

const trainer = (address: string, env: NodeJS.ProcessEnv) =>
  createClient(trainerV1.TrainerServiceClient, address, {}, testConfig('/tmp', env).security);

test('tokens: none is UNAUTHENTICATED, read cannot train (PERMISSION_DENIED), train can; health stays open', async () => {
  await withServer({ FLOE_TOKENS: TOKENS }, async (server) => {
    const anonymous = trainer(server.address, {});
    const reader = trainer(server.address, { FLOE_TOKEN: 'read-token-0123456789' });
    const writer = trainer(server.address, { FLOE_TOKEN: 'train-token-0123456789' });
    const stranger = trainer(server.address, { FLOE_TOKEN: 'not-a-token-0123456789' });
    try {
      const refused = await rejectsWith(
        call(anonymous.getRun.bind(anonymous), { runId: 'run-x' }),
        grpc.status.UNAUTHENTICATED,
      );
      assert.equal(refused.details, 'a valid bearer token is required');
      const unknown = await rejectsWith(
        call(stranger.getRun.bind(stranger), { runId: 'run-x' }),
        grpc.status.UNAUTHENTICATED,
      );
      assert.ok(!unknown.details.includes('not-a-token'), 'the refusal does not echo the token');
      // Past the door, the service answers for itself.
      await rejectsWith(call(reader.getRun.bind(reader), { runId: 'run-x' }), grpc.status.NOT_FOUND);
      await rejectsWith(
        call(reader.startRun.bind(reader), { requestId: '', spec: undefined }),
        grpc.status.PERMISSION_DENIED,
      );
      await rejectsWith(
        call(writer.startRun.bind(writer), { requestId: '', spec: undefined }),
        grpc.status.INVALID_ARGUMENT,
        'spec',
      );
      await rejectsWith(call(writer.getRun.bind(writer), { runId: 'run-x' }), grpc.status.NOT_FOUND);
      assert.equal(await healthStatus(server.address, ''), 'SERVING');
    } finally {
      for (const c of [anonymous, reader, writer, stranger]) c.close();
    }
  });
  await withServer({ FLOE_TOKENS: TOKENS, FLOE_HEALTH_OPEN: 'false' }, async (server) => {
    await rejectsWith(healthStatus(server.address, ''), grpc.status.UNAUTHENTICATED);
  });
});

test('TLS: the right CA connects, a wrong CA and plaintext are refused; mutual TLS needs a client certificate', async () => {
  const dir = tempDir();
  try {
    const pki = makeCertificates(dir.path);
    const tls = { FLOE_TLS_CERT: pki.server.cert, FLOE_TLS_KEY: pki.server.key };
    await withServer(tls, async (server) => {
      const good = trainer(server.address, { FLOE_TLS_CA: pki.ca });
      const wrongCa = trainer(server.address, { FLOE_TLS_CA: pki.otherCa });
      const plain = trainer(server.address, {});
      try {
        await rejectsWith(call(good.getRun.bind(good), { runId: 'run-x' }), grpc.status.NOT_FOUND);
        await rejectsWith(call(wrongCa.getRun.bind(wrongCa), { runId: 'run-x' }), grpc.status.UNAVAILABLE);
        await rejectsWith(call(plain.getRun.bind(plain), { runId: 'run-x' }), grpc.status.UNAVAILABLE);
      } finally {
        for (const c of [good, wrongCa, plain]) c.close();
      }
    });
    await withServer({ ...tls, FLOE_TLS_CA: pki.ca, FLOE_TLS_CLIENT_AUTH: 'require' }, async (server) => {
      const withCert = trainer(server.address, {
        FLOE_TLS_CA: pki.ca,
        FLOE_TLS_CERT: pki.client.cert,
        FLOE_TLS_KEY: pki.client.key,
      });
      const withoutCert = trainer(server.address, { FLOE_TLS_CA: pki.ca });
      try {
        await rejectsWith(call(withCert.getRun.bind(withCert), { runId: 'run-x' }), grpc.status.NOT_FOUND);
        await rejectsWith(call(withoutCert.getRun.bind(withoutCert), { runId: 'run-x' }), grpc.status.UNAVAILABLE);
      } finally {
        withCert.close();
        withoutCert.close();
      }
    });
  } finally {
    dir.remove();
  }
});

test('a TLS server is not ready before it has read its certificate: the first call after start connects', async () => {
  const dir = tempDir();
  try {
    const pki = makeCertificates(dir.path);
    // The certificate behind a named pipe: reading it waits until the test writes it (a slow volume).
    const slowCert = join(dir.path, 'slow-server.pem');
    execFileSync('mkfifo', [slowCert]);
    let started = false;
    const starting = withServer({ FLOE_TLS_CERT: slowCert, FLOE_TLS_KEY: pki.server.key }, async (server) => {
      const good = trainer(server.address, { FLOE_TLS_CA: pki.ca });
      try {
        // grpc-js drops connections until its credentials are loaded; startServer waits for them.
        await rejectsWith(call(good.getRun.bind(good), { runId: 'run-x' }), grpc.status.NOT_FOUND);
      } finally {
        good.close();
      }
    }).finally(() => (started = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(started, false, 'still starting while the certificate is unread');
    await writeFile(slowCert, readFileSync(pki.server.cert));
    await starting;
  } finally {
    dir.remove();
  }
});

test('the health listener answers probes in plaintext without a token, while the service needs mutual TLS and a token; it serves health only', async () => {
  const dir = tempDir();
  try {
    const pki = makeCertificates(dir.path);
    const healthAddress = `127.0.0.1:${await freePort()}`;
    const env = {
      FLOE_TLS_CERT: pki.server.cert,
      FLOE_TLS_KEY: pki.server.key,
      FLOE_TLS_CA: pki.ca,
      FLOE_TLS_CLIENT_AUTH: 'require',
      FLOE_TOKENS: TOKENS,
      FLOE_HEALTH_OPEN: 'false',
      FLOE_HEALTH_ADDRESS: healthAddress,
    };
    await withServer(env, async (server) => {
      assert.equal(await healthStatus(healthAddress, ''), 'SERVING');
      assert.equal(await healthStatus(healthAddress, 'floe.trainer.v1.TrainerService'), 'SERVING');
      await rejectsWith(healthStatus(server.address, ''), grpc.status.UNAVAILABLE);
      const onHealthPort = trainer(healthAddress, {});
      try {
        await rejectsWith(call(onHealthPort.getRun.bind(onHealthPort), { runId: 'run-x' }), grpc.status.UNIMPLEMENTED);
      } finally {
        onHealthPort.close();
      }
      await server.shutdown();
      await rejectsWith(healthStatus(healthAddress, ''), grpc.status.UNAVAILABLE);
    });
  } finally {
    dir.remove();
  }
});

test('TLS: a rotated certificate is served without a restart', { timeout: 30_000 }, async () => {
  const dir = tempDir();
  try {
    const pki = makeCertificates(dir.path);
    // The server reads its certificate from these paths; rotation replaces the files.
    const cert = `${dir.path}/live.pem`;
    const key = `${dir.path}/live.key`;
    copyFileSync(pki.server.cert, cert);
    copyFileSync(pki.server.key, key);
    await withServer({ FLOE_TLS_CERT: cert, FLOE_TLS_KEY: key, FLOE_TLS_RELOAD_MS: '200' }, async (server) => {
      const trustsOther = () => trainer(server.address, { FLOE_TLS_CA: pki.otherCa });
      const before = trustsOther();
      await rejectsWith(call(before.getRun.bind(before), { runId: 'run-x' }), grpc.status.UNAVAILABLE);
      before.close();
      copyFileSync(pki.serverByOtherCa.key, key);
      copyFileSync(pki.serverByOtherCa.cert, cert);
      let lastCode = -1;
      for (let attempt = 0; attempt < 40 && lastCode !== grpc.status.NOT_FOUND; attempt++) {
        await new Promise((r) => setTimeout(r, 200));
        const after = trustsOther();
        lastCode = await call(after.getRun.bind(after), { runId: 'run-x' }).then(
          () => 0,
          (err: grpc.ServiceError) => err.code,
        );
        after.close();
      }
      assert.equal(lastCode, grpc.status.NOT_FOUND, 'the new certificate is served');
    });
  } finally {
    dir.remove();
  }
});

test('bad security settings stop the process at start, naming the variable and not the token', () => {
  const dir = tempDir();
  try {
    const pki = makeCertificates(dir.path);
    const bad: [NodeJS.ProcessEnv, RegExp][] = [
      [{ FLOE_TLS_CERT: pki.server.cert }, /FLOE_TLS_KEY/],
      [{ FLOE_TLS_CERT: '/nope.pem', FLOE_TLS_KEY: pki.server.key }, /FLOE_TLS_CERT.*readable file/],
      [{ FLOE_TLS_CLIENT_AUTH: 'maybe' }, /FLOE_TLS_CLIENT_AUTH/],
      [
        { FLOE_TLS_CLIENT_AUTH: 'require', FLOE_TLS_CERT: pki.server.cert, FLOE_TLS_KEY: pki.server.key },
        /FLOE_TLS_CA/,
      ],
      [{ FLOE_TOKENS: 'not json' }, /FLOE_TOKENS.*not JSON/],
      [{ FLOE_TOKENS: '[{"name":"x","token":"short","scopes":["read"]}]' }, /FLOE_TOKENS\[0\]\.token/],
      [{ FLOE_TOKENS: '[{"name":"x","token":"long-enough-token-123","scopes":["root"]}]' }, /FLOE_TOKENS\[0\]\.scopes/],
      [{ FLOE_HEALTH_OPEN: 'yes' }, /FLOE_HEALTH_OPEN/],
      [{ FLOE_HEALTH_ADDRESS: 'localhost' }, /FLOE_HEALTH_ADDRESS/],
    ];
    for (const [env, message] of bad) {
      assert.throws(
        () => testConfig(dir.path, env),
        (err: Error) =>
          err instanceof ConfigError && message.test(err.message) && !/long-enough-token/.test(err.message),
        JSON.stringify(env),
      );
    }
  } finally {
    dir.remove();
  }
});
