// The container images and the chart run the composition the embedded default runs: each component's
// exact command line — the image's ENTRYPOINT plus the chart's args, with the chart's environment — is
// started here (the image's /app is this repository) and must serve its one service on the gRPC port and
// answer the kubelet's probe on the health listener, then stop cleanly on SIGTERM. The Dockerfiles are
// checked for what the chart relies on: a non-root numeric user, the same entry point, pinned bases, the
// GPU image's TensorFlow backend at the version of the TF.js packages floe uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { SERVICE_NAMES } from '@floe/contracts';
import { freePort, healthStatus, tempDir } from '@floe/testing';
import { ofKind, render, root, valuesFile, type K8sObject } from '../tools/chart.js';

interface Dockerfile {
  stages: { from: string; lines: string[] }[];
  /** Instructions of the final stage, by keyword (the last of each wins, as Docker's do). */
  final: Record<string, string>;
  env: Record<string, string>;
}

function parseDockerfile(path: string): Dockerfile {
  // Continuation lines joined; comments dropped.
  const lines = readFileSync(path, 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Dockerfile['stages'] = [];
  for (const l of lines) {
    if (/^FROM /i.test(l)) stages.push({ from: l.slice(5).trim(), lines: [] });
    else stages.at(-1)?.lines.push(l);
  }
  const final: Record<string, string> = {};
  const env: Record<string, string> = {};
  for (const l of stages.at(-1)!.lines) {
    const [keyword, ...rest] = l.split(/\s+/);
    final[keyword!.toUpperCase()] = rest.join(' ');
    if (keyword!.toUpperCase() === 'ENV')
      for (const m of rest.join(' ').matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)) env[m[1]!] = m[2]!;
  }
  return { stages, final, env };
}

const cpu = parseDockerfile(join(root, 'deploy/docker/Dockerfile'));
const gpu = parseDockerfile(join(root, 'deploy/docker/Dockerfile.gpu'));
const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};

test('the images: non-root, one entry point (floe), pinned bases; the GPU image on the TensorFlow backend', () => {
  for (const [name, d] of [
    ['Dockerfile', cpu],
    ['Dockerfile.gpu', gpu],
  ] as const) {
    assert.match(d.final.USER!, /^[1-9][0-9]*:[1-9][0-9]*$/, `${name}: a numeric non-root user and group`);
    assert.deepEqual(JSON.parse(d.final.ENTRYPOINT!), ['node', '/app/apps/cli/bin/floe.js'], name);
    assert.deepEqual(JSON.parse(d.final.CMD!), ['up'], `${name}: all five services, as npm start`);
    for (const s of d.stages)
      assert.match(s.from, /^[\w./-]+:[\w.-]+(\s+AS\s+\w+)?$|^node(\s+AS\s+\w+)?$/i, `${name}: ${s.from} is pinned`);
    for (const s of d.stages) assert.doesNotMatch(s.from, /:latest\b/, name);
    assert.equal(d.env.FLOE_HOME, '/var/lib/floe');
    assert.equal(d.env.FLOE_HEALTH_ADDRESS, '0.0.0.0:50052');
    assert.ok(
      d.stages.some((s) => s.lines.some((l) => /npm ci --omit=dev/.test(l))),
      `${name}: npm ci`,
    );
  }
  assert.equal(gpu.env.FLOE_TF_BACKEND, 'tensorflow');
  assert.equal(cpu.env.FLOE_TF_BACKEND, undefined, 'the CPU image picks its backend (native kernels)');
  const tfjs = packageJson.dependencies['@tensorflow/tfjs-core'];
  assert.ok(
    gpu.stages.some((s) => s.lines.some((l) => l.includes(`@tensorflow/tfjs-node-gpu@${tfjs}`))),
    `the GPU image installs tfjs-node-gpu ${tfjs}, the version of the TF.js packages`,
  );
  assert.match(gpu.stages.at(-1)!.from, /^nvidia\/cuda:[\d.]+-cudnn\d+-runtime/);
});

/** The command line and environment the kubelet would start for a Deployment, mapped onto this machine. */
function commandLine(d: K8sObject, ports: { grpc: number; health: number; metrics: number }, home: string) {
  const pod = (d.spec as { template: { spec: { containers: Record<string, never>[] } } }).template.spec;
  const c = pod.containers[0] as unknown as {
    command?: string[];
    args: string[];
    env: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  };
  const entry = c.command ?? (JSON.parse(cpu.final.ENTRYPOINT!) as string[]);
  const argv = [...entry, ...c.args].map((a) => a.replace(/^\/app\//, `${root}/`));
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, ...cpu.env, FLOE_TF_BACKEND: 'wasm' };
  for (const e of c.env) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = `${d.metadata.name}-0`;
    else if (e.valueFrom?.fieldRef) env[e.name] = d.metadata.labels!['app.kubernetes.io/component'];
    // Secrets (the database URL, tokens) are not set here: SQLite and no tokens.
  }
  // The pod's addresses on loopback ports; the pod's volume in a temporary folder.
  env.FLOE_ADDRESS = env.FLOE_ADDRESS!.replace(/^0\.0\.0\.0:\d+$/, `127.0.0.1:${ports.grpc}`);
  env.FLOE_HEALTH_ADDRESS = env.FLOE_HEALTH_ADDRESS!.replace(/^0\.0\.0\.0:\d+$/, `127.0.0.1:${ports.health}`);
  env.FLOE_METRICS_ADDRESS = env.FLOE_METRICS_ADDRESS!.replace(/^0\.0\.0\.0:\d+$/, `127.0.0.1:${ports.metrics}`);
  env.FLOE_HOME = home;
  env.FLOE_LOG_LEVEL = 'warn';
  return { argv, env };
}

test(
  "each component's command line serves its one service, answers the probe and the metrics scrape; SIGTERM stops it cleanly",
  {
    timeout: 180_000,
  },
  async () => {
    const deployments = ofKind(render([valuesFile('default')]).objects, 'Deployment');
    assert.equal(deployments.length, 5);
    const children: ChildProcess[] = [];
    const home = tempDir();
    try {
      for (const d of deployments) {
        const service = d.metadata.labels!['app.kubernetes.io/component'] as keyof typeof SERVICE_NAMES;
        const ports = { grpc: await freePort(), health: await freePort(), metrics: await freePort() };
        const { argv, env } = commandLine(d, ports, join(home.path, service));
        assert.deepEqual(argv.slice(0, 2), ['node', `${root}/apps/cli/bin/floe.js`]);
        const child = spawn(argv[0] === 'node' ? process.execPath : argv[0]!, argv.slice(1), {
          env,
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        children.push(child);
        let stderr = '';
        child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
        const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
        // The kubelet's startup probe: plaintext grpc.health.v1 on the health port, until SERVING.
        const fullName = SERVICE_NAMES[service];
        let status = '';
        for (let i = 0; i < 150 && status !== 'SERVING'; i++) {
          status = await healthStatus(`127.0.0.1:${ports.health}`, fullName).catch(() => '');
          if (status !== 'SERVING') await new Promise((r) => setTimeout(r, 200));
          if (child.exitCode !== null) break;
        }
        assert.equal(status, 'SERVING', `${service} did not become healthy: ${stderr}`);
        // The gRPC port hosts that one service and no other.
        assert.equal(await healthStatus(`127.0.0.1:${ports.grpc}`, fullName), 'SERVING');
        for (const other of Object.values(SERVICE_NAMES).filter((n) => n !== fullName))
          await assert.rejects(healthStatus(`127.0.0.1:${ports.grpc}`, other), (err: grpc.ServiceError) => {
            assert.equal(err.code, grpc.status.NOT_FOUND, `${service} hosts ${other}`);
            return true;
          });
        // Prometheus' scrape, answered by this component's process (health checks are not counted as calls).
        const scraped = await (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text();
        assert.match(scraped, new RegExp(`^target_info\\{[^}]*service_name="${service}"`, 'm'), scraped);
        child.kill('SIGTERM');
        assert.equal(await exited, 0, `${service} stopped uncleanly: ${stderr}`);
      }
    } finally {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
      home.remove();
    }
  },
);
