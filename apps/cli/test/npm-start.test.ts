// `npm start` as a user runs it: SERVING within 15 s, reflection lists all five services, and SIGTERM to
// the process group ends it with status 0 within 10 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { SERVICE_NAMES } from '@floe/contracts';
import { freePort, healthStatus, reflectionServices, tempDir, waitServing } from '@floe/testing';

const root = new URL('../../..', import.meta.url).pathname;

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(
    `npm start serves all five services and exits 0 on ${signal} to its process group`,
    { timeout: 60_000 },
    async () => {
      const home = tempDir();
      const address = `127.0.0.1:${await freePort()}`;
      const child = spawn('npm', ['start', '--silent'], {
        cwd: root,
        detached: true, // its own process group, as a terminal or a supervisor would start it
        env: { ...process.env, FLOE_ADDRESS: address, FLOE_HOME: home.path, FLOE_LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      try {
        await waitServing(address, 15_000);
        for (const name of Object.values(SERVICE_NAMES))
          assert.equal(await healthStatus(address, name), 'SERVING', name);
        const listed = await reflectionServices(address);
        for (const name of Object.values(SERVICE_NAMES)) assert.ok(listed.includes(name), name);

        const sentAt = Date.now();
        process.kill(-child.pid!, signal);
        const code = await Promise.race([
          exited,
          new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000)),
        ]);
        assert.equal(code, 0, `exit ${code} after ${Date.now() - sentAt} ms; stderr:\n${stderr}`);
      } finally {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
        home.remove();
      }
    },
  );
}
