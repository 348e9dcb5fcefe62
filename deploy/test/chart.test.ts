// The Helm chart, rendered offline by a real helm with each of CI's value files and checked for what a
// cluster operator relies on: every object valid against the Kubernetes schemas; GPUs exactly where asked;
// native gRPC probes; restricted Pod Security; a ServiceAccount each; NetworkPolicies admitting exactly
// the real callers (apps/cli/src/services.ts); secrets referenced, never inlined; the trainer reached
// through a headless Service; and the renders of the defaults and the GPU values equal to golden files
// (FLOE_UPDATE_GOLDEN=1 rewrites them: a change to the rendered cluster is a reviewed diff).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SERVICES } from '../../apps/cli/src/services.js';
import { helm } from '../tools/helm.js';
import {
  NAMESPACE,
  RELEASE,
  VALUE_FILES,
  chartDir,
  ofKind,
  render,
  validateObjects,
  valuesFile,
  type K8sObject,
} from '../tools/chart.js';
import { valuesTable } from '../tools/values-table.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are plain data */
type Pod = any;
type Container = any;

const renders = Object.fromEntries(VALUE_FILES.map((v) => [v, render([valuesFile(v)])]));
const valuesOf = (name: string) => {
  const defaults = parseYaml(readFileSync(join(chartDir, 'values.yaml'), 'utf8'));
  const over = parseYaml(readFileSync(valuesFile(name), 'utf8')) ?? {};
  const merge = (a: any, b: any): any => {
    if (b === null) return undefined;
    if (typeof a !== 'object' || a === null || Array.isArray(a) || typeof b !== 'object' || Array.isArray(b)) return b;
    const out = { ...a };
    for (const [k, v] of Object.entries(b)) {
      const m = merge(a[k], v);
      if (m === undefined) delete out[k];
      else out[k] = m;
    }
    return out;
  };
  return merge(defaults, over);
};
const component = (o: K8sObject) => o.metadata.labels?.['app.kubernetes.io/component'] ?? '';
const podOf = (d: K8sObject): Pod => (d.spec as any).template.spec;
const envOf = (c: Container) => Object.fromEntries((c.env ?? []).map((e: any) => [e.name, e]));

test('helm lint passes with every value file', () => {
  for (const v of VALUE_FILES) {
    const r = helm(['lint', '--strict', chartDir, '-f', valuesFile(v)]);
    assert.equal(r.status, 0, `${v}: ${r.stdout}${r.stderr}`);
  }
});

test('every rendered object is valid against the Kubernetes schemas and types', () => {
  for (const v of VALUE_FILES) {
    const r = renders[v]!;
    assert.equal(r.status, 0, `${v}: ${r.stderr}`);
    assert.ok(r.objects.length > 0);
    assert.deepEqual(validateObjects(r.objects), [], v);
  }
});

test('the checks catch what they are for: a values typo, an invalid object, a misspelt field, a GPU leaking, root', () => {
  // A typo in values: the schema refuses it, naming the key.
  const typo = render([], ['components.trainer.replicaz=2']);
  assert.notEqual(typo.status, 0);
  assert.match(typo.stderr, /replicaz/);
  // GPUs only through `gpu`: a limit written into resources is refused.
  const leak = render([], ['components.evaluator.resources.limits.nvidia\\.com/gpu=1']);
  assert.notEqual(leak.status, 0);
  assert.match(leak.stderr, /nvidia\.com\/gpu/);
  // No way to ask for root or for privilege: those keys do not exist.
  for (const key of ['components.trainer.securityContext.runAsUser=0', 'podSecurityContext.runAsNonRoot=false']) {
    const r = render([], [key]);
    assert.notEqual(r.status, 0, key);
  }
  // Replicas share state only through PostgreSQL.
  const noDb = render([], ['database.existingSecret=']);
  assert.notEqual(noDb.status, 0);
  assert.match(noDb.stderr, /trainer.*database\.existingSecret/);
  const noCert = render([], ['tls.enabled=true']);
  assert.notEqual(noCert.status, 0);
  assert.match(noCert.stderr, /tls\.existingSecret or tls\.certManager\.enabled/);
  // An invalid object and a misspelt field are found in what was rendered.
  const deployment = structuredClone(ofKind(renders.default!.objects, 'Deployment')[0]!);
  (deployment.spec as any).replicas = 'two';
  (deployment.spec as any).template.spec.containers[0].securityContxt = {};
  const problems = validateObjects([deployment]);
  assert.ok(
    problems.some((p) => /replicas must be integer/.test(p)),
    problems.join('\n'),
  );
  assert.ok(
    problems.some((p) => /securityContxt/.test(p)),
    problems.join('\n'),
  );
  // And the security assertions below fail on a container that may run as root.
  const rooted = structuredClone(deployment);
  podOf(rooted).containers[0].securityContext.runAsUser = 0;
  assert.throws(() => assertRestricted(rooted));
});

/** Restricted Pod Security, pod and containers. */
function assertRestricted(d: K8sObject): void {
  const pod = podOf(d);
  const name = d.metadata.name;
  assert.equal(pod.securityContext.runAsNonRoot, true, name);
  assert.ok(pod.securityContext.runAsUser > 0, name);
  assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault', name);
  assert.equal(pod.automountServiceAccountToken, false, name);
  assert.equal(pod.hostNetwork ?? false, false, name);
  for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
    const s = c.securityContext;
    assert.equal(s.runAsNonRoot, true, name);
    assert.ok(s.runAsUser === undefined || s.runAsUser > 0, `${name}: runs as root`);
    assert.equal(s.allowPrivilegeEscalation, false, name);
    assert.equal(s.privileged ?? false, false, name);
    assert.equal(s.readOnlyRootFilesystem, true, name);
    assert.deepEqual(s.capabilities.drop, ['ALL'], name);
    assert.equal(s.capabilities.add, undefined, name);
    assert.equal(s.seccompProfile.type, 'RuntimeDefault', name);
  }
}

test('GPUs exactly where asked: limits, the toleration, the node selector and the GPU image, and nowhere else', () => {
  for (const v of VALUE_FILES) {
    const values = valuesOf(v);
    const deployments = ofKind(renders[v]!.objects, 'Deployment');
    for (const d of deployments) {
      const name = component(d);
      const gpu = values.components[name].gpu as number;
      const pod = podOf(d);
      const text = JSON.stringify(pod);
      if (gpu > 0) {
        assert.equal(pod.containers[0].resources.limits['nvidia.com/gpu'], gpu, `${v}/${name}`);
        assert.ok(
          pod.tolerations.some(
            (t: any) => t.key === 'nvidia.com/gpu' && t.operator === 'Exists' && t.effect === 'NoSchedule',
          ),
        );
        for (const [k, value] of Object.entries(values.gpuNodeSelector)) assert.equal(pod.nodeSelector[k], value);
        assert.match(pod.containers[0].image, new RegExp(`^${values.image.gpuRepository}:`));
        // A GPU pod is replaced in place: a node rarely has a spare GPU for a surge pod.
        assert.equal((d.spec as any).strategy.rollingUpdate.maxSurge, 0);
      } else {
        assert.ok(!text.includes('nvidia.com/gpu'), `${v}/${name} mentions nvidia.com/gpu`);
        for (const k of Object.keys(values.gpuNodeSelector))
          assert.equal(pod.nodeSelector?.[k], undefined, `${v}/${name}`);
        assert.match(pod.containers[0].image, new RegExp(`^${values.image.repository}:`));
      }
    }
    const gpuComponents = deployments.filter((d) => values.components[component(d)].gpu > 0).map(component);
    if (v === 'default') assert.deepEqual(gpuComponents, ['trainer'], 'the trainer on GPU nodes by default');
    if (v === 'gpu') assert.deepEqual(gpuComponents.sort(), ['explainer', 'trainer']);
    if (v === 'minimal') assert.deepEqual(gpuComponents, []);
  }
});

test('pods: floe up with one service, native gRPC probes on the health listener, restricted security, their own ServiceAccount', () => {
  for (const v of VALUE_FILES) {
    const values = valuesOf(v);
    const objects = renders[v]!.objects;
    const enabled = Object.keys(values.components).filter((n) => values.components[n].enabled);
    const deployments = ofKind(objects, 'Deployment');
    assert.deepEqual(deployments.map(component).sort(), [...enabled].sort(), v);
    const accounts = new Set(ofKind(objects, 'ServiceAccount').map((s) => s.metadata.name));
    for (const d of deployments) {
      const name = component(d);
      const pod = podOf(d);
      const [c] = pod.containers;
      assert.deepEqual(c.args, ['up', '--services', name]);
      assert.equal(c.command, undefined, 'the image entry point runs floe');
      const env = envOf(c);
      assert.equal(env.FLOE_HEALTH_ADDRESS.value, `0.0.0.0:${values.ports.health}`);
      assert.equal(env.FLOE_ADDRESS.value, `0.0.0.0:${values.ports.grpc}`);
      // Metrics for Prometheus: the listener, its port and the scrape annotations, or none of them.
      const annotations =
        (d.spec as { template: { metadata: { annotations?: Record<string, string> } } }).template.metadata
          .annotations ?? {};
      if (values.metrics.enabled) {
        assert.equal(env.FLOE_METRICS_ADDRESS.value, `0.0.0.0:${values.metrics.port}`);
        assert.ok(c.ports.some((p: any) => p.name === 'metrics' && p.containerPort === values.metrics.port));
        assert.deepEqual(
          [annotations['prometheus.io/scrape'], annotations['prometheus.io/port'], annotations['prometheus.io/path']],
          ['true', String(values.metrics.port), '/metrics'],
        );
      } else {
        assert.equal(env.FLOE_METRICS_ADDRESS, undefined);
        assert.equal(annotations['prometheus.io/scrape'], undefined);
      }
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe'])
        assert.deepEqual(c[probe].grpc, { port: values.ports.health }, `${v}/${name} ${probe}`);
      assertRestricted(d);
      assert.ok(accounts.has(pod.serviceAccountName), `${v}/${name} has its own ServiceAccount`);
      // Long enough to checkpoint: floe's drain ends 10 s before the kubelet's kill.
      assert.equal(
        Number(env.FLOE_SHUTDOWN_GRACE_MS.value),
        (pod.terminationGracePeriodSeconds - 10) * 1000,
        `${v}/${name}`,
      );
      assert.equal(
        env.OTEL_SERVICE_NAME.valueFrom.fieldRef.fieldPath,
        "metadata.labels['app.kubernetes.io/component']",
      );
      assert.equal(env.FLOE_REPLICA_ID.valueFrom.fieldRef.fieldPath, 'metadata.name');
      if (values.otel.endpoint) assert.equal(env.OTEL_EXPORTER_OTLP_ENDPOINT.value, values.otel.endpoint);
      else assert.equal(env.OTEL_EXPORTER_OTLP_ENDPOINT, undefined);
      // Writable: only the data volume and /tmp.
      const mounts = c.volumeMounts.filter((m: any) => !m.readOnly).map((m: any) => m.mountPath);
      assert.deepEqual(mounts.sort(), ['/tmp', '/var/lib/floe']);
      if (name === 'trainer') assert.ok(pod.terminationGracePeriodSeconds >= 60, 'the trainer has time to checkpoint');
    }
    const pdbs = ofKind(objects, 'PodDisruptionBudget').map(component).sort();
    assert.deepEqual(pdbs, values.podDisruptionBudget.enabled ? [...enabled].sort() : [], v);
  }
});

test("the README's retention setting: components.trainer.env with --set-string reaches the trainer alone", () => {
  const r = render([], [], ['components.trainer.env.FLOE_CHECKPOINT_KEEP_LAST=3']);
  assert.equal(r.status, 0, r.stderr);
  const deployments = ofKind(r.objects, 'Deployment');
  for (const d of deployments) {
    const env = envOf(podOf(d).containers[0]);
    if (component(d) === 'trainer') {
      assert.equal(env.FLOE_CHECKPOINT_KEEP_LAST.value, '3');
      assert.equal(env.FLOE_MAX_CONCURRENT_RUNS.value, '1', 'merged with the default env, not replacing it');
    } else assert.equal(env.FLOE_CHECKPOINT_KEEP_LAST, undefined, component(d));
  }
  // A number (plain --set) is refused by the schema, naming the key: env values are strings.
  const number = render([], ['components.trainer.env.FLOE_CHECKPOINT_KEEP_LAST=3']);
  assert.notEqual(number.status, 0);
  assert.match(number.stderr, /FLOE_CHECKPOINT_KEEP_LAST/);
});

test('peers through headless Services; NetworkPolicies admit exactly the callers services.ts registers, plus the clients', () => {
  for (const v of VALUE_FILES) {
    const values = valuesOf(v);
    const objects = renders[v]!.objects;
    const enabled = new Set(Object.keys(values.components).filter((n) => values.components[n].enabled));
    const name = (c: string) => `${RELEASE}-${c}`;
    for (const c of enabled) {
      const headless = objects.find((o) => o.kind === 'Service' && o.metadata.name === `${name(c)}-headless`)!;
      assert.equal((headless.spec as any).clusterIP, 'None');
      const d = ofKind(objects, 'Deployment').find((o) => component(o) === c)!;
      const env = envOf(podOf(d).containers[0]);
      for (const peer of SERVICES[c as keyof typeof SERVICES].peers) {
        const variable = `FLOE_${peer.toUpperCase().replace(/-/g, '_')}_ADDRESS`;
        if (enabled.has(peer))
          assert.equal(
            env[variable].value,
            `dns:///${name(peer)}-headless.${NAMESPACE}.svc:${values.ports.grpc}`,
            `${v}/${c} → ${peer}`,
          );
        else assert.equal(env[variable], undefined);
      }
      const policy = ofKind(objects, 'NetworkPolicy').find((o) => component(o) === c)!;
      const spec = policy.spec as any;
      assert.deepEqual(spec.policyTypes, ['Ingress']);
      for (const rule of spec.ingress) assert.ok(rule.from?.length, 'a rule without `from` would admit everyone');
      // Two rules at most: callers and clients on the gRPC port, Prometheus on the metrics port.
      const onPort = (port: string) =>
        spec.ingress.filter((r: any) => JSON.stringify(r.ports) === JSON.stringify([{ port, protocol: 'TCP' }]));
      const grpcRules = onPort('grpc');
      const metricsRules = onPort('metrics');
      assert.equal(grpcRules.length + metricsRules.length, spec.ingress.length, 'no rule on another port');
      assert.deepEqual(
        metricsRules.flatMap((r: any) => r.from),
        values.metrics.enabled ? values.metrics.scrapers : [],
        `${v}: who may scrape ${c}`,
      );
      const admitted = grpcRules
        .flatMap((r: any) => r.from)
        .map((p: any) => p.podSelector?.matchLabels?.['app.kubernetes.io/component'])
        .filter(Boolean)
        .sort();
      const callers = Object.entries(SERVICES)
        .filter(([caller, e]) => enabled.has(caller) && (e.peers as string[]).includes(c))
        .map(([caller]) => caller)
        .sort();
      assert.deepEqual(admitted, callers, `${v}: who may call ${c}`);
      for (const client of values.networkPolicy.clients)
        assert.ok(grpcRules.some((r: any) => r.from.some((p: any) => JSON.stringify(p) === JSON.stringify(client))));
    }
  }
});

test('secrets are referenced, never inlined; TLS from the Secret or cert-manager; artifacts on a ReadWriteMany claim', () => {
  for (const v of VALUE_FILES) {
    const values = valuesOf(v);
    const r = renders[v]!;
    assert.equal(ofKind(r.objects, 'Secret').length, 0, 'the chart renders no Secret');
    assert.doesNotMatch(r.manifest, /postgres(ql)?:\/\//, 'no database URL in the manifest');
    for (const d of ofKind(r.objects, 'Deployment')) {
      const pod = podOf(d);
      const env = envOf(pod.containers[0]);
      for (const secretVar of ['FLOE_DATABASE_URL', 'FLOE_TOKENS', 'FLOE_TOKEN']) {
        if (!env[secretVar]) continue;
        assert.equal(env[secretVar].value, undefined, `${secretVar} is inlined`);
        assert.ok(env[secretVar].valueFrom.secretKeyRef.name);
      }
      assert.equal(!!env.FLOE_DATABASE_URL, !!values.database.existingSecret, v);
      assert.equal(!!env.FLOE_TOKENS, !!values.auth.existingSecret, v);
      const tlsVolume = pod.volumes.find((x: any) => x.name === 'tls');
      if (values.tls.enabled) {
        assert.equal(env.FLOE_TLS_CERT.value, '/etc/floe/tls/tls.crt');
        assert.equal(env.FLOE_TLS_CLIENT_AUTH.value, values.tls.clientAuth);
        assert.ok(tlsVolume.secret.secretName);
      } else assert.equal(tlsVolume, undefined);
      const data = pod.volumes.find((x: any) => x.name === 'data');
      if (values.persistence.enabled) assert.ok(data.persistentVolumeClaim.claimName);
      else assert.deepEqual(data.emptyDir, {});
    }
    const claims = ofKind(r.objects, 'PersistentVolumeClaim');
    if (values.persistence.enabled) {
      assert.equal(claims.length, 1);
      assert.deepEqual((claims[0]!.spec as any).accessModes, ['ReadWriteMany']);
    } else assert.equal(claims.length, 0);
    const certificates = ofKind(r.objects, 'Certificate');
    if (values.tls.enabled && values.tls.certManager.enabled) {
      assert.equal(certificates.length, 1);
      const spec = certificates[0]!.spec as any;
      assert.equal(spec.issuerRef.name, values.tls.certManager.issuerRef.name);
      // The names peers dial (the headless Services) are on the certificate.
      for (const d of ofKind(r.objects, 'Deployment'))
        assert.ok(spec.dnsNames.includes(`${RELEASE}-${component(d)}-headless.${NAMESPACE}.svc`));
    } else assert.equal(certificates.length, 0);
  }
});

test('the renders of the defaults and the GPU values equal their golden files', () => {
  for (const v of ['default', 'gpu'] as const) {
    const golden = join(chartDir, 'golden', `${v}.yaml`);
    const manifest = renders[v]!.manifest;
    if (process.env.FLOE_UPDATE_GOLDEN === '1') writeFileSync(golden, manifest);
    assert.equal(
      manifest,
      readFileSync(golden, 'utf8'),
      `${v}: the rendered cluster changed; review and run npm run deploy:golden`,
    );
  }
});

test("the README's values table is the one the schema makes", () => {
  const readme = readFileSync(join(chartDir, '..', '..', '..', 'README.md'), 'utf8');
  assert.ok(readme.includes(valuesTable()), 'README values table is stale: npm run deploy:values-table');
});
