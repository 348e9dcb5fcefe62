// @floe/client as it leaves the repository (`npm run client:pack`): the tarball installed into a fresh
// folder beside only its declared dependencies, imported by plain Node (no TypeScript loader) and by the
// TypeScript compiler (its declarations), calls a real trainer on loopback and gets typed errors back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { quietLog, startTestServer, tempDir, testConfig } from '@floe/testing';
import { createTrainerService } from '@floe/trainer';

const root = new URL('../../..', import.meta.url).pathname;

test(
  'the packed @floe/client installs with its two dependencies, runs on plain Node and type-checks',
  {
    timeout: 120_000,
  },
  async () => {
    const packed = execFileSync(process.execPath, [join(root, 'scripts/pack-client.mjs')], {
      cwd: root,
      encoding: 'utf8',
    });
    const tarball = join(root, /packed (\S+\.tgz)/.exec(packed)![1]!);
    const manifest = JSON.parse(readFileSync(join(root, 'dist/client-package/package.json'), 'utf8'));
    assert.deepEqual(Object.keys(manifest.dependencies).sort(), ['@bufbuild/protobuf', '@grpc/grpc-js']);

    const home = tempDir();
    const config = testConfig(home.path);
    const server = await startTestServer([createTrainerService({ config, log: quietLog })], config);
    try {
      // A consumer's folder: the package unpacked, its dependencies (and nothing else of floe's) beside it.
      const app = join(home.path, 'app');
      const target = join(app, 'node_modules', '@floe', 'client');
      mkdirSync(target, { recursive: true });
      execFileSync('tar', ['xzf', tarball, '-C', target, '--strip-components=1']);
      for (const dep of ['@grpc', '@bufbuild'])
        symlinkSync(join(root, 'node_modules', dep), join(app, 'node_modules', dep));
      writeFileSync(join(app, 'package.json'), JSON.stringify({ type: 'module', private: true }));
      const consumer = `
import { FloeClient, FloeApiError } from '@floe/client';
const floe = new FloeClient({ address: process.argv[2] });
const { runs } = await floe.trainer.listRuns({});
const refused = await floe.trainer.startRun({ requestId: 'x', spec: { batchSize: -1 } }).catch((e) => e);
console.log(JSON.stringify({
  runs: runs.length,
  typed: refused instanceof FloeApiError,
  code: refused.codeName,
  fields: refused.violations.map((v) => v.field),
}));
floe.close();
`;
      writeFileSync(join(app, 'consumer.mjs'), consumer);
      // Not spawnSync: the server answering it runs in this process's event loop.
      const run = await promisify(execFile)(process.execPath, ['consumer.mjs', server.address], { cwd: app });
      const answer = JSON.parse(run.stdout);
      assert.equal(answer.runs, 0);
      assert.equal(answer.typed, true);
      assert.equal(answer.code, 'INVALID_ARGUMENT');
      assert.ok(answer.fields.includes('spec.batch_size'), JSON.stringify(answer.fields));

      // Its declarations: a typed consumer compiles, and a wrong field does not.
      const typed = (body: string) => {
        writeFileSync(
          join(app, 'typed.ts'),
          `import { FloeClient, trainerV1 } from '@floe/client';\nconst floe = new FloeClient({});\n${body}\n`,
        );
        return spawnSync(
          process.execPath,
          [
            join(root, 'node_modules/typescript/bin/tsc'),
            '--noEmit',
            '--strict',
            '--module',
            'nodenext',
            '--moduleResolution',
            'nodenext',
            '--target',
            'es2022',
            '--skipLibCheck',
            '--types',
            'node',
            '--typeRoots',
            join(root, 'node_modules/@types'),
            'typed.ts',
          ],
          { cwd: app, encoding: 'utf8' },
        );
      };
      const good = typed(
        'const r: Promise<trainerV1.ListRunsResponse> = floe.trainer.listRuns({ labels: { a: "b" } });\nvoid r;',
      );
      assert.equal(good.status, 0, good.stdout + good.stderr);
      const bad = typed('void floe.trainer.listRuns({ labelz: {} });');
      assert.notEqual(bad.status, 0, 'a misspelt request field is a type error');
    } finally {
      await server.shutdown();
      home.remove();
    }
  },
);
