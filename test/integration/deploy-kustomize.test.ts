// deploy/ as platform teams install it: each kustomization rendered by kustomize (built from Go
// modules, scripts/kube/build.ts) and applied to a real kube-apiserver with server-side apply in
// dry-run mode, as `kubectl apply --server-side --dry-run=server -k <overlay>` does.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { ensureKustomize } from '../../scripts/kube/build.js';
import { startTestKube, type KubeTestClient } from '../helpers/kube.js';
import { ROOT } from './start-cli.js';

const kustomize = await ensureKustomize({ env: process.env, onProgress: (line) => process.stderr.write(`[kustomize] ${line}\n`) });
const kube = await startTestKube();
// The namespace must exist for a dry run of what goes in it (a dry-run namespace is not kept).
const namespace = await kube.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'knative-eventing' } });
assert.equal(namespace.status, 201, JSON.stringify(namespace.body));

interface Rendered {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, any>;
  data?: Record<string, string>;
}

async function render(folder: string): Promise<Rendered[]> {
  const { stdout } = await promisify(execFile)(kustomize, ['build', folder], { cwd: ROOT, maxBuffer: 64 << 20 });
  return parseAllDocuments(stdout).map((doc) => doc.toJS() as Rendered).filter((o) => o !== null);
}

/** Where the API server serves a kind, from its discovery documents (cached per group version). */
const discovery = new Map<string, Promise<{ kind: string; name: string; namespaced: boolean }[]>>();
async function resourcePath(client: KubeTestClient, object: Rendered): Promise<string> {
  const groupVersion = object.apiVersion;
  const base = groupVersion.includes('/') ? `/apis/${groupVersion}` : `/api/${groupVersion}`;
  if (!discovery.has(base)) discovery.set(base, client.get(base).then((r) => r.body.resources));
  const resource = (await discovery.get(base)!).find((r) => r.kind === object.kind && !r.name.includes('/'));
  assert.ok(resource, `the API server serves no ${object.kind} in ${groupVersion}`);
  const namespace = resource.namespaced ? `/namespaces/${object.metadata.namespace ?? 'default'}` : '';
  return `${base}${namespace}/${resource.name}/${object.metadata.name}`;
}

/** Server-side apply, dry run: every admission step and validation runs, nothing is stored. */
async function dryRunApply(objects: readonly Rendered[]): Promise<void> {
  for (const object of objects) {
    const url = `${await resourcePath(kube, object)}?dryRun=All&fieldManager=kafka-broker-test&force=true`;
    const applied = await kube.patch(url, object, { contentType: 'application/apply-patch+yaml' });
    assert.ok(applied.status === 200 || applied.status === 201, `${object.kind} ${object.metadata.name}: ${applied.status} ${JSON.stringify(applied.body)}`);
  }
}

const deployments = (objects: readonly Rendered[]) => new Map(objects.filter((o) => o.kind === 'Deployment').map((o) => [o.metadata.name, o]));

describe('deploy/ with kustomize', () => {
  test('the base renders everything, with the image set in one place', async () => {
    const objects = await render('deploy/base');
    const kinds = new Set(objects.map((o) => o.kind));
    for (const kind of ['CustomResourceDefinition', 'Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'ConfigMap', 'Deployment', 'Service', 'NetworkPolicy']) {
      assert.ok(kinds.has(kind), `the base has a ${kind}`);
    }
    assert.equal(objects.filter((o) => o.kind === 'CustomResourceDefinition').length, 9); // with EventPolicy and KafkaSource
    for (const deployment of deployments(objects).values()) {
      for (const container of deployment.spec!['template'].spec.containers) assert.equal(container.image, 'kafka-broker:0.1.0', `${deployment.metadata.name}: the image of kustomization.yaml's images:`);
    }
    await dryRunApply(objects);
  });

  test('an overlay sets the image for every Deployment at once', async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kb-overlay-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await writeFile(path.join(dir, 'kustomization.yaml'), [
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      `resources: [${path.relative(dir, path.join(ROOT, 'deploy', 'base'))}]`, // kustomize takes relative paths only
      'images:',
      '  - { name: kafka-broker, newName: registry.example.com/platform/kafka-broker, newTag: 1.2.3 }',
      '',
    ].join('\n'));
    const objects = await render(dir);
    const images = [...deployments(objects).values()].flatMap((d) => d.spec!['template'].spec.containers.map((c: { image: string }) => c.image));
    assert.deepEqual(images, ['registry.example.com/platform/kafka-broker:1.2.3', 'registry.example.com/platform/kafka-broker:1.2.3', 'registry.example.com/platform/kafka-broker:1.2.3']);
  });

  test('standalone-kafka: bootstrap servers and the credentials Secret', async () => {
    const objects = await render('deploy/overlays/standalone-kafka');
    const config = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'kafka-broker-config')!;
    assert.match(config.data!['bootstrap.servers']!, /^[^,]+:\d+(,[^,]+:\d+)*$/);
    assert.equal(config.data!['auth.secret.ref.name'], 'kafka-broker-kafka-auth');
    const secret = objects.find((o) => o.kind === 'Secret');
    assert.equal(secret?.metadata.name, 'kafka-broker-kafka-auth');
    assert.equal(secret?.metadata.namespace, 'knative-eventing');
    await dryRunApply(objects);
  });

  test('ha: replicas, a PodDisruptionBudget per component, topology spread', async () => {
    const objects = await render('deploy/overlays/ha');
    const byName = deployments(objects);
    assert.equal(byName.get('kafka-broker-controller')?.spec!['replicas'], 2);
    assert.equal(byName.get('kafka-broker-ingress')?.spec!['replicas'], 3);
    assert.equal(byName.get('kafka-broker-dispatcher')?.spec!['replicas'], 3);
    for (const deployment of byName.values()) {
      const spread = deployment.spec!['template'].spec.topologySpreadConstraints as { topologyKey: string; labelSelector: { matchLabels: Record<string, string> } }[];
      assert.deepEqual(spread.map((s) => s.topologyKey), ['topology.kubernetes.io/zone', 'kubernetes.io/hostname']);
      for (const s of spread) assert.equal(s.labelSelector.matchLabels['app.kubernetes.io/name'], deployment.metadata.name);
    }
    const budgets = objects.filter((o) => o.kind === 'PodDisruptionBudget');
    assert.deepEqual(budgets.map((b) => b.spec!['selector'].matchLabels['app.kubernetes.io/name']).sort(), [...byName.keys()].sort());
    await dryRunApply(objects);
  });

  test("knative-eventing: leaves Knative's own CRDs alone and adds only the Kafka kinds", async () => {
    const objects = await render('deploy/overlays/knative-eventing');
    const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata.name).sort();
    assert.deepEqual(crds, ['kafkachannels.messaging.knative.dev', 'kafkasinks.eventing.knative.dev', 'kafkasources.sources.knative.dev']);
    assert.equal(deployments(objects).size, 3);
    await dryRunApply(objects);
  });
});
