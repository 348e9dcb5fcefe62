// Rendering and validating the Helm chart offline: `helm template` with value files, every rendered
// object validated against the Kubernetes schemas (kubernetes-models: types, formats, required fields)
// and type-checked as an object literal of its Kubernetes type (TypeScript's excess-property check: a
// misspelt field in a template fails, which the schemas alone let through).
import { join } from 'node:path';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { helm } from './helm.js';

export const root = new URL('../..', import.meta.url).pathname;
export const chartDir = join(root, 'deploy', 'helm', 'floe');
/** The value files CI renders (deploy/helm/floe/ci), by name. */
export const VALUE_FILES = ['default', 'gpu', 'minimal', 'tls'] as const;
export const valuesFile = (name: string) => join(chartDir, 'ci', `${name}-values.yaml`);
export const RELEASE = 'floe';
export const NAMESPACE = 'floe';

/** A rendered Kubernetes object (only what the checks read is typed). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  [field: string]: unknown;
}

export interface Rendered {
  status: number;
  stderr: string;
  manifest: string;
  objects: K8sObject[];
}

/** `helm template floe deploy/helm/floe --namespace floe -f … --set … --set-string …`, parsed. */
export function render(values: string[] = [], set: string[] = [], setString: string[] = []): Rendered {
  const r = helm([
    'template',
    RELEASE,
    chartDir,
    '--namespace',
    NAMESPACE,
    ...values.flatMap((f) => ['-f', f]),
    ...set.flatMap((s) => ['--set', s]),
    ...setString.flatMap((s) => ['--set-string', s]),
  ]);
  const objects =
    r.status === 0
      ? parseAllDocuments(r.stdout)
          .map((d) => d.toJS() as K8sObject | null)
          .filter((o): o is K8sObject => o !== null)
      : [];
  return { status: r.status, stderr: r.stderr, manifest: r.stdout, objects };
}

/** The kubernetes-models class and type of each kind the chart renders. */
const MODELS: Record<string, { model?: new (data: never) => { validate(): void }; type: string; from: string }> = {
  'v1/ServiceAccount': { model: ServiceAccount, type: 'IServiceAccount', from: 'kubernetes-models/v1/ServiceAccount' },
  'v1/Service': { model: Service, type: 'IService', from: 'kubernetes-models/v1/Service' },
  'v1/PersistentVolumeClaim': {
    model: PersistentVolumeClaim,
    type: 'IPersistentVolumeClaim',
    from: 'kubernetes-models/v1/PersistentVolumeClaim',
  },
  'apps/v1/Deployment': { model: Deployment, type: 'IDeployment', from: 'kubernetes-models/apps/v1/Deployment' },
  'policy/v1/PodDisruptionBudget': {
    model: PodDisruptionBudget,
    type: 'IPodDisruptionBudget',
    from: 'kubernetes-models/policy/v1/PodDisruptionBudget',
  },
  'networking.k8s.io/v1/NetworkPolicy': {
    model: NetworkPolicy,
    type: 'INetworkPolicy',
    from: 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy',
  },
  // cert-manager's Certificate (its CRD's fields that matter here, from cert-manager.io/v1's reference).
  'cert-manager.io/v1/Certificate': { type: 'Certificate', from: '' },
};

const CERTIFICATE_TYPE = `
import type { IIoK8sApimachineryPkgApisMetaV1ObjectMeta as ObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';
interface Certificate {
  apiVersion: 'cert-manager.io/v1';
  kind: 'Certificate';
  metadata: ObjectMeta;
  spec: {
    secretName: string;
    duration?: string;
    renewBefore?: string;
    privateKey?: { algorithm?: 'RSA' | 'ECDSA' | 'Ed25519'; size?: number; rotationPolicy?: 'Never' | 'Always'; encoding?: 'PKCS1' | 'PKCS8' };
    usages?: string[];
    dnsNames?: string[];
    commonName?: string;
    issuerRef: { name: string; kind?: string; group?: string };
  };
}`;

/** Every problem of the rendered objects, as "Kind/name: message"; empty when all are valid. */
export function validateObjects(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const typed: { type: string; object: K8sObject }[] = [];
  for (const o of objects) {
    const id = `${o.kind}/${o.metadata?.name}`;
    const entry = MODELS[`${o.apiVersion}/${o.kind}`];
    if (!entry) {
      problems.push(`${id}: ${o.apiVersion} ${o.kind} is not a kind the chart is checked for`);
      continue;
    }
    if (entry.model)
      try {
        new entry.model(o as never).validate();
      } catch (err) {
        problems.push(`${id}: ${(err as Error).message}`);
      }
    typed.push({ type: entry.type, object: o });
  }
  problems.push(...typeCheck(typed));
  return problems;
}

/** Type-checks each object as a literal of its Kubernetes type: unknown fields and wrong types fail. */
function typeCheck(items: { type: string; object: K8sObject }[]): string[] {
  const imports = [...new Set(items.map((i) => i.type))]
    .filter((t) => t !== 'Certificate')
    .map((t) => {
      const from = Object.values(MODELS).find((m) => m.type === t)!.from;
      return `import type { ${t} } from '${from}';`;
    });
  const source = [
    ...imports,
    CERTIFICATE_TYPE,
    ...items.map((i, n) => `export const object${n}: ${i.type} = ${JSON.stringify(i.object)};`),
  ].join('\n');
  // A file beside the chart's tools, so that module resolution finds the repository's node_modules.
  const file = join(root, 'deploy', 'tools', '__rendered__.ts');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (f, language, ...rest) =>
    f === file ? ts.createSourceFile(f, source, language) : getSourceFile(f, language, ...rest);
  host.fileExists = (f) => f === file || fileExists(f);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    if (d.file?.fileName !== file || d.start === undefined) return message;
    const line = d.file.getLineAndCharacterOfPosition(d.start).line;
    const n = /^export const object(\d+)/.exec(source.split('\n')[line] ?? '')?.[1];
    const o = n === undefined ? undefined : items[Number(n)]!.object;
    return `${o ? `${o.kind}/${o.metadata.name}` : 'rendered'}: ${message}`;
  });
}

/** Objects of a kind, by name. */
export const ofKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
