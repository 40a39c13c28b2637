// deploy/base/ against a real kube-apiserver: every manifest is accepted as written, the RBAC grants
// the controller exactly what it needs (it runs here under the deployment's own service-account
// identity, bound by nothing but deploy/'s objects, through a whole Broker lifecycle on Kafka),
// and the data plane's identity may do nothing at all.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { KINDS } from '../../controller/api-kinds.js';
import { KafkaEventLog } from '../../core/event-log/kafka/adapter.js';
import { silentLogger } from '../../core/logger.js';
import { kafkaBootstrapServers } from '../helpers/kafka.js';
import { startTestKube } from '../helpers/kube.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';
import {
  BROKERS, CONTROLLER_USER, SYSTEM_NAMESPACE, TRIGGERS, broker, create, ensureNamespace, startController, testConfig, trigger, waitForReady,
  waitGone, watchedLog, type LogCalls, type RunningController,
} from './k8s-harness.js';

const DATA_PLANE_USER = `system:serviceaccount:${SYSTEM_NAMESPACE}:kafka-broker-data-plane`;
const saGroups = ['system:serviceaccounts', `system:serviceaccounts:${SYSTEM_NAMESPACE}`];
const kube = await startTestKube({ users: [{ name: CONTROLLER_USER, groups: saGroups }, { name: DATA_PLANE_USER, groups: saGroups }] });
const DEPLOY = new URL('../../deploy/base/', import.meta.url);

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [field: string]: unknown;
}

async function deployManifests(): Promise<{ file: string; object: Manifest }[]> {
  const files = (await readdir(DEPLOY)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
  const out: { file: string; object: Manifest }[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(new URL(file, DEPLOY), 'utf8'))) {
      const object = doc.toJS() as Manifest | null;
      if (object !== null) out.push({ file, object });
    }
  }
  return out;
}

/** The REST collection of a manifest's kind (the kinds deploy/ uses). */
function collection(object: Manifest): string {
  const ns = object.metadata.namespace;
  const core: Record<string, string> = { Namespace: 'namespaces', ServiceAccount: 'serviceaccounts', ConfigMap: 'configmaps', Service: 'services' };
  const plural = core[object.kind];
  if (plural !== undefined) return object.kind === 'Namespace' ? '/api/v1/namespaces' : `/api/v1/namespaces/${ns}/${plural}`;
  const named: Record<string, string> = {
    Deployment: 'deployments', ClusterRole: 'clusterroles', ClusterRoleBinding: 'clusterrolebindings', Role: 'roles', RoleBinding: 'rolebindings', NetworkPolicy: 'networkpolicies',
  };
  const resource = named[object.kind];
  if (resource === undefined) throw new Error(`deploy/ has a ${object.kind}; teach this test its path`);
  return ns === undefined ? `/apis/${object.apiVersion}/${resource}` : `/apis/${object.apiVersion}/namespaces/${ns}/${resource}`;
}

/** Whether the API server's RBAC allows `user` the action (a SubjectAccessReview, asked as admin); a `path` is a non-resource URL. */
async function allowed(user: string, attributes: Record<string, string>): Promise<boolean> {
  const review = await kube.create('/apis/authorization.k8s.io/v1/subjectaccessreviews', {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: { user, groups: [...saGroups, 'system:authenticated'], ...(attributes['path'] === undefined ? { resourceAttributes: attributes } : { nonResourceAttributes: attributes }) },
  });
  assert.equal(review.status, 201, JSON.stringify(review.body));
  return review.body.status.allowed === true;
}

describe('deploy/', () => {
  before(async () => {
    for (const { file, object } of await deployManifests()) {
      const created = await kube.create(collection(object), object);
      assert.equal(created.status, 201, `${file}: ${object.kind} ${object.metadata.name}: ${JSON.stringify(created.body)}`);
    }
  });

  test('every manifest is accepted by the API server as written', async () => {
    const manifests = await deployManifests();
    const kinds = new Set(manifests.map((m) => m.object.kind));
    for (const kind of ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'ConfigMap', 'Deployment', 'Service', 'NetworkPolicy']) {
      assert.ok(kinds.has(kind), `deploy/ has a ${kind}`);
    }
    const config = manifests.find((m) => m.object.kind === 'ConfigMap')!.object as unknown as { data: Record<string, string> };
    assert.deepEqual(Object.keys(config.data).sort(), ['bootstrap.servers', 'default.topic.partitions', 'default.topic.replication.factor']);
    for (const { object } of manifests.filter((m) => m.object.kind === 'Deployment')) {
      const { body } = await kube.get(`${collection(object)}/${object.metadata.name}`);
      for (const container of body.spec.template.spec.containers) assert.ok(container.readinessProbe?.httpGet, `${object.metadata.name}/${container.name} has a readiness probe`);
    }
  });

  test("the controller's ClusterRole covers every kind the controller watches, their status and finalizers", async () => {
    const { body } = await kube.get('/apis/rbac.authorization.k8s.io/v1/clusterroles/kafka-broker-controller');
    const grants = (group: string, resource: string, verb: string): boolean =>
      body.rules.some((r: { apiGroups: string[]; resources: string[]; verbs: string[] }) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));
    for (const info of KINDS.filter((k) => k.group !== '')) {
      for (const verb of ['list', 'watch', 'patch']) assert.ok(grants(info.group, info.plural, verb), `${verb} ${info.plural}.${info.group}`);
      assert.ok(grants(info.group, `${info.plural}/status`, 'patch'), `patch ${info.plural}/status`);
      assert.ok(grants(info.group, `${info.plural}/finalizers`, 'update'), `update ${info.plural}/finalizers`);
    }
  });

  test('least privilege: the controller may not create, delete or read what it does not need', async () => {
    const can = (attributes: Record<string, string>): Promise<boolean> => allowed(CONTROLLER_USER, attributes);
    assert.equal(await can({ verb: 'list', group: 'eventing.knative.dev', resource: 'brokers' }), true);
    assert.equal(await can({ verb: 'patch', group: 'eventing.knative.dev', resource: 'triggers', subresource: 'status', namespace: 'default' }), true);
    assert.equal(await can({ verb: 'get', resource: 'services', namespace: 'default' }), true);
    assert.equal(await can({ verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: SYSTEM_NAMESPACE, name: 'kafka-broker-controller' }), true);
    // Its admin API asks the API server who calls and what they may do.
    assert.equal(await can({ verb: 'create', group: 'authentication.k8s.io', resource: 'tokenreviews' }), true);
    assert.equal(await can({ verb: 'create', group: 'authorization.k8s.io', resource: 'subjectaccessreviews' }), true);
    assert.equal(await can({ verb: 'create', group: 'eventing.knative.dev', resource: 'brokers', namespace: 'default' }), false);
    assert.equal(await can({ verb: 'delete', group: 'eventing.knative.dev', resource: 'triggers', namespace: 'default' }), false);
    assert.equal(await can({ verb: 'list', resource: 'services' }), false);
    // The Secrets resources name for Kafka credentials (a KafkaSink's in its own namespace, a
    // ConfigMap's auth.secret.ref.name): get by name, in any namespace; never list or watch.
    assert.equal(await can({ verb: 'get', resource: 'secrets', namespace: SYSTEM_NAMESPACE, name: 'kafka-auth' }), true);
    assert.equal(await can({ verb: 'get', resource: 'secrets', namespace: 'default', name: 'kafka-auth' }), true);
    for (const verb of ['list', 'watch', 'create', 'update', 'patch', 'delete']) {
      assert.equal(await can({ verb, resource: 'secrets', namespace: SYSTEM_NAMESPACE }), false, `${verb} secrets`);
      assert.equal(await can({ verb, resource: 'secrets', namespace: 'default' }), false, `${verb} secrets in default`);
    }
    assert.equal(await can({ verb: 'list', resource: 'secrets' }), false, 'list secrets cluster-wide');
    // ConfigMaps: get, by the names it reads, in its namespace only; no list, no watch, no others.
    for (const name of ['kafka-broker-config', 'kafka-channel-config']) {
      assert.equal(await can({ verb: 'get', resource: 'configmaps', namespace: SYSTEM_NAMESPACE, name }), true, `get configmap ${name}`);
      assert.equal(await can({ verb: 'update', resource: 'configmaps', namespace: SYSTEM_NAMESPACE, name }), false, `update configmap ${name}`);
    }
    assert.equal(await can({ verb: 'get', resource: 'configmaps', namespace: SYSTEM_NAMESPACE, name: 'config-observability' }), false);
    assert.equal(await can({ verb: 'list', resource: 'configmaps', namespace: SYSTEM_NAMESPACE }), false);
    assert.equal(await can({ verb: 'watch', resource: 'configmaps', namespace: SYSTEM_NAMESPACE }), false);
    assert.equal(await can({ verb: 'get', resource: 'configmaps', namespace: 'default', name: 'kafka-broker-config' }), false);
    assert.equal(await can({ verb: 'list', resource: 'configmaps', namespace: 'default' }), false);
    assert.equal(await can({ verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: 'default', name: 'kafka-broker-controller' }), false);
    assert.equal(await can({ verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: SYSTEM_NAMESPACE, name: 'someone-else' }), false);
  });

  test('the data plane may do nothing with the API server', async () => {
    const denied: Record<string, string>[] = [
      { verb: 'list', group: 'eventing.knative.dev', resource: 'brokers' },
      { verb: 'get', resource: 'configmaps', namespace: SYSTEM_NAMESPACE, name: 'kafka-broker-config' },
      { verb: 'get', group: 'coordination.k8s.io', resource: 'leases', namespace: SYSTEM_NAMESPACE, name: 'kafka-broker-controller' },
      { verb: 'get', resource: 'services', namespace: 'default' },
    ];
    for (const attributes of denied) {
      assert.equal(await allowed(DATA_PLANE_USER, attributes), false, JSON.stringify(attributes));
    }
  });

  test("on the controller's admin API, the data plane may read the contract and report its faults, and only that", async () => {
    assert.equal(await allowed(DATA_PLANE_USER, { verb: 'get', path: '/contract' }), true);
    assert.equal(await allowed(DATA_PLANE_USER, { verb: 'post', path: '/data-plane/faults' }), true);
    // Dispatchers get the OIDC tokens they present to destinations with an audience.
    assert.equal(await allowed(DATA_PLANE_USER, { verb: 'get', path: '/oidc-tokens' }), true);
    for (const attributes of [{ verb: 'post', path: '/dead-letters/replay' }, { verb: 'get', path: '/dead-letters/events' }, { verb: 'get', path: '/problems' }]) {
      assert.equal(await allowed(DATA_PLANE_USER, attributes), false, JSON.stringify(attributes));
    }
    assert.equal(await allowed(CONTROLLER_USER, { verb: 'post', path: '/dead-letters/replay' }), false, 'nor may the controller itself');
  });

  test('the controller may create the triggers\' OIDC identities and their tokens, and not list or delete ServiceAccounts', async () => {
    assert.equal(await allowed(CONTROLLER_USER, { verb: 'create', resource: 'serviceaccounts', namespace: 'shop' }), true);
    assert.equal(await allowed(CONTROLLER_USER, { verb: 'get', resource: 'serviceaccounts', namespace: 'shop', name: 'oidc-trigger-orders' }), true);
    assert.equal(await allowed(CONTROLLER_USER, { verb: 'list', resource: 'serviceaccounts', namespace: 'shop' }), false);
    assert.equal(await allowed(CONTROLLER_USER, { verb: 'create', resource: 'serviceaccounts', subresource: 'token', namespace: 'shop', name: 'oidc-trigger-orders' }), true);
    assert.equal(await allowed(CONTROLLER_USER, { verb: 'delete', resource: 'serviceaccounts', namespace: 'shop' }), false);
    assert.equal(await allowed(DATA_PLANE_USER, { verb: 'create', resource: 'serviceaccounts', subresource: 'token', namespace: 'shop' }), false, 'the data plane never asks the API server');
  });

  test("the data plane's pods carry a token for the controller only (projected, audience kafka-broker-controller)", async () => {
    for (const name of ['kafka-broker-ingress', 'kafka-broker-dispatcher']) {
      const { body } = await kube.get(`/apis/apps/v1/namespaces/${SYSTEM_NAMESPACE}/deployments/${name}`);
      const pod = body.spec.template.spec;
      assert.equal(pod.automountServiceAccountToken, false, `${name}: no token for the API server`);
      const projected = pod.volumes.flatMap((v: { projected?: { sources: { serviceAccountToken?: { audience: string; path: string } }[] } }) => v.projected?.sources ?? []);
      assert.deepEqual(projected.map((s: { serviceAccountToken?: { audience: string } }) => s.serviceAccountToken?.audience), ['kafka-broker-controller'], name);
      assert.ok(pod.containers[0].args.includes('--token-file=/var/run/secrets/kafka-broker/token'), name);
    }
  });

  describe("the controller runs under deploy/'s RBAC alone", () => {
    const ns = uniqueName('k8s-rbac').toLowerCase();
    const topic = `knative-broker-${ns}-orders`;
    let running: RunningController;
    let calls: LogCalls;
    let log: KafkaEventLog;

    before(async () => {
      await ensureNamespace(kube, ns);
      // As an operator would: point the config at this Kafka (one broker: replication 1).
      const patched = await kube.patch(`/api/v1/namespaces/${SYSTEM_NAMESPACE}/configmaps/kafka-broker-config`, {
        data: { 'bootstrap.servers': kafkaBootstrapServers().join(','), 'default.topic.replication.factor': '1' },
      });
      assert.equal(patched.status, 200);
      log = new KafkaEventLog({ brokers: kafkaBootstrapServers(), clientId: 'k8s-rbac-test', logger: silentLogger() });
      const watched = watchedLog(log);
      calls = watched.calls;
      running = await startController(undefined, {
        kube,
        log: watched.log,
        // A KafkaSink with credentials of its own gets a client of its own (same Kafka here).
        openCluster: (ref, security) => new KafkaEventLog({ brokers: [...ref.bootstrapServers], clientId: 'k8s-rbac-sink', logger: silentLogger(), security }),
        token: kube.server.tokens[CONTROLLER_USER]!,
        config: testConfig({ ingressUrl: 'http://ingress.test', kafkaBootstrapServers: kafkaBootstrapServers() }),
      });
    });
    after(async () => {
      await running?.close();
      await log?.close();
    });

    test('it leads, reads the config ConfigMap, reconciles a Broker and Triggers and writes their status', async () => {
      // The Broker names deploy/'s ConfigMap (partitions from it: 10), as Knative's examples do.
      await create(kube, BROKERS(ns), broker(ns, 'orders', { config: { apiVersion: 'v1', kind: 'ConfigMap', name: 'kafka-broker-config', namespace: SYSTEM_NAMESPACE } }));
      await create(kube, `/api/v1/namespaces/${ns}/services`, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'handler' }, spec: { ports: [{ port: 80 }] } });
      await create(kube, TRIGGERS(ns), trigger(ns, 'by-uri', 'orders', { uri: 'http://handler.example/' }));
      await create(kube, TRIGGERS(ns), trigger(ns, 'by-ref', 'orders', { ref: { apiVersion: 'v1', kind: 'Service', name: 'handler' } }));
      await waitForReady(kube, BROKERS(ns, 'orders'), 'True', 90_000);
      assert.deepEqual(await log.describeTopic(topic), { name: topic, partitions: 10 });
      await waitForReady(kube, TRIGGERS(ns, 'by-uri'), 'True', 90_000);
      await waitForReady(kube, TRIGGERS(ns, 'by-ref'), 'True', 90_000);
      assert.equal((await kube.get(TRIGGERS(ns, 'by-ref'))).body.status.subscriberUri, `http://handler.${ns}.svc.cluster.local`);
      const lease = await kube.get(`/apis/coordination.k8s.io/v1/namespaces/${SYSTEM_NAMESPACE}/leases/kafka-broker-controller`);
      assert.equal(lease.body.spec.holderIdentity, running.controller.identity);
      // Kinds whose CRD is installed are listed; the source reports no problem with any of them.
      assert.deepEqual(running.controller.reconciler()?.problems().filter((p) => /brokers|triggers/.test(p.source)), []);
    });

    test("it reads a KafkaSink's Secret in the sink's namespace by name: missing is a clear status and an Event, created is used", async () => {
      const SINKS = `/apis/eventing.knative.dev/v1alpha1/namespaces/${ns}/kafkasinks`;
      const sinkTopic = `${ns}-sink`;
      await create(kube, SINKS, {
        apiVersion: 'eventing.knative.dev/v1alpha1', kind: 'KafkaSink', metadata: { name: 'sink', namespace: ns },
        spec: { topic: sinkTopic, bootstrapServers: kafkaBootstrapServers(), numPartitions: 1, replicationFactor: 1, auth: { secret: { ref: { name: 'sink-creds' } } } },
      });
      const missing = await waitForReady(kube, `${SINKS}/sink`, 'False', 90_000);
      // Not found (the role may read it), rather than forbidden.
      assert.deepEqual({ status: missing.status, reason: missing.reason, message: missing.message }, {
        status: 'False', reason: 'KafkaAuthSecretInvalid',
        message: `cannot use topic ${sinkTopic}: Secret ${ns}/sink-creds not found (named by auth.secret.ref.name)`,
      });
      const events = await waitUntil(async () => {
        const { body } = await kube.get(`/api/v1/namespaces/${ns}/events?fieldSelector=involvedObject.name=sink`);
        const found = (body?.items ?? []).filter((e: { reason: string }) => e.reason === 'KafkaAuthSecretInvalid');
        return found.length > 0 ? found : undefined;
      }, { timeoutMs: 30_000, intervalMs: 200, message: 'a Warning Event on the KafkaSink' });
      assert.equal(events[0].type, 'Warning');

      await create(kube, `/api/v1/namespaces/${ns}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sink-creds' }, stringData: { protocol: 'PLAINTEXT' } });
      await waitForReady(kube, `${SINKS}/sink`, 'True', 90_000);
      assert.deepEqual(await log.describeTopic(sinkTopic), { name: sinkTopic, partitions: 1 });
      assert.equal((await kube.delete(`${SINKS}/sink`)).status, 200);
      await waitGone(kube, `${SINKS}/sink`, 90_000);
      // Deleted through the sink's own client: this one's metadata may lag a moment.
      await waitUntil(async () => ((await log.describeTopic(sinkTopic)) === undefined ? true : undefined), { timeoutMs: 30_000, intervalMs: 200, message: `${sinkTopic} deleted` });
    });

    test('a ConfigMap its role does not name is a problem it reports, not a crash', async () => {
      await create(kube, BROKERS(ns), broker(ns, 'elsewhere', { config: { apiVersion: 'v1', kind: 'ConfigMap', name: 'not-granted', namespace: SYSTEM_NAMESPACE } }));
      const problem = await waitUntil(
        async () => running.controller.reconciler()?.problems().find((p) => p.source.endsWith('/configmaps/not-granted')),
        { timeoutMs: 30_000, intervalMs: 100, message: 'the forbidden ConfigMap reported' },
      );
      assert.equal(problem.message, `the controller may not read ConfigMap ${SYSTEM_NAMESPACE}/not-granted (add it to the resourceNames of its Role); treated as absent`);
      assert.equal((await kube.delete(BROKERS(ns, 'elsewhere'))).status, 200);
      await waitGone(kube, BROKERS(ns, 'elsewhere'), 90_000);
    });

    test('it deletes the topic and groups through its finalizer, and lets the objects go', async () => {
      assert.equal((await kube.delete(TRIGGERS(ns, 'by-uri'))).status, 200);
      await waitGone(kube, TRIGGERS(ns, 'by-uri'), 90_000);
      assert.ok(calls.deleteGroup.has(`knative-trigger-${ns}-by-uri`));
      assert.equal((await kube.delete(BROKERS(ns, 'orders'))).status, 200);
      await waitGone(kube, BROKERS(ns, 'orders'), 90_000);
      assert.equal(await log.describeTopic(topic), undefined);
      assert.ok(calls.deleteGroup.has(`knative-trigger-${ns}-by-ref`), "the remaining Trigger's group goes with its Broker's topic");
    });
  });
});
