// The controller's admin API in Kubernetes mode against a real kube-apiserver: callers' tokens
// are real ServiceAccount tokens (TokenRequest), checked by TokenReview for the audience deploy/
// uses, and every request is authorized by SubjectAccessReview under deploy/base/10-rbac.yaml's roles:
// the data plane reads the contract and nothing else; operators replay.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { HttpContractSource } from '../../core/contract/http-source.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import { silentLogger } from '../../core/logger.js';
import { startTestKube } from '../helpers/kube.js';
import { waitUntil } from '../helpers/wait.js';
import { CONTROLLER_USER, SYSTEM_NAMESPACE, ensureNamespace, startController, testConfig, type RunningController } from './k8s-harness.js';

const AUDIENCE = 'kafka-broker-controller';
const saGroups = ['system:serviceaccounts', `system:serviceaccounts:${SYSTEM_NAMESPACE}`];
const kube = await startTestKube({ users: [{ name: CONTROLLER_USER, groups: saGroups }] });

/** A ServiceAccount's token from the API server (TokenRequest), for `audiences` (the API server's own when empty). */
async function tokenFor(namespace: string, account: string, audiences: string[]): Promise<string> {
  const created = await kube.create(`/api/v1/namespaces/${namespace}/serviceaccounts/${account}/token`, {
    apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences, expirationSeconds: 3600 },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.status.token as string;
}

async function createOk(collection: string, object: unknown): Promise<void> {
  const created = await kube.create(collection, object);
  assert.ok(created.status === 201 || created.status === 409, `${collection}: ${created.status} ${JSON.stringify(created.body)}`);
}

describe("the controller's admin API under TokenReview and SubjectAccessReview", { timeout: 300_000 }, () => {
  let running: RunningController;
  let log: MemoryEventLog;
  const replays: unknown[] = [];
  const tokens = { dataPlane: '', dataPlaneForApiServer: '', operator: '', nobody: '' };
  const call = (pathname: string, token: string | undefined, init: RequestInit = {}): Promise<Response> =>
    fetch(`${running.adminUrl}${pathname}`, { ...init, headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(init.headers as Record<string, string> | undefined) } });
  const replay = (token: string): Promise<Response> => call('/dead-letters/replay', token, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"all":true}' });

  before(async () => {
    await ensureNamespace(kube, SYSTEM_NAMESPACE);
    // deploy/base/10-rbac.yaml as written, then an operator bound as its comment says, and an account bound to nothing.
    const rbac = parseAllDocuments(await readFile(new URL('../../deploy/base/10-rbac.yaml', import.meta.url), 'utf8')).map((d) => d.toJS() as { kind: string; metadata: { namespace?: string } });
    const paths: Record<string, string> = {
      ServiceAccount: `/api/v1/namespaces/${SYSTEM_NAMESPACE}/serviceaccounts`,
      ClusterRole: '/apis/rbac.authorization.k8s.io/v1/clusterroles',
      ClusterRoleBinding: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
      Role: `/apis/rbac.authorization.k8s.io/v1/namespaces/${SYSTEM_NAMESPACE}/roles`,
      RoleBinding: `/apis/rbac.authorization.k8s.io/v1/namespaces/${SYSTEM_NAMESPACE}/rolebindings`,
    };
    for (const object of rbac) await createOk(paths[object.kind]!, object);
    for (const name of ['ops', 'nobody']) await createOk(paths['ServiceAccount']!, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: SYSTEM_NAMESPACE } });
    await createOk(paths['ClusterRoleBinding']!, {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'kafka-broker-operators-test' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kafka-broker-operator' },
      subjects: [{ kind: 'ServiceAccount', name: 'ops', namespace: SYSTEM_NAMESPACE }],
    });
    tokens.dataPlane = await tokenFor(SYSTEM_NAMESPACE, 'kafka-broker-data-plane', [AUDIENCE]);
    tokens.dataPlaneForApiServer = await tokenFor(SYSTEM_NAMESPACE, 'kafka-broker-data-plane', []);
    tokens.operator = await tokenFor(SYSTEM_NAMESPACE, 'ops', [AUDIENCE]);
    tokens.nobody = await tokenFor(SYSTEM_NAMESPACE, 'nobody', [AUDIENCE]);

    log = new MemoryEventLog();
    // Under the controller's own identity, so deploy/'s grant of TokenReview and SubjectAccessReview is what is used.
    running = await startController(undefined, {
      kube,
      log,
      token: kube.server.tokens[CONTROLLER_USER]!,
      config: testConfig({ ingressUrl: 'http://ingress.test', adminTokenAudiences: [AUDIENCE] }),
      // A stand-in for the dead-letter replay route, which `start` serves: it notes who got through.
      registerRoutes: (admin) => admin.post('/dead-letters/replay', async (request) => {
        replays.push(request.body);
        return { results: [] };
      }),
    });
    await waitUntil(() => running.controller.notReadyReason() === undefined, { timeoutMs: 60_000, message: 'the controller leads' });
  });
  after(async () => {
    await running?.close();
    await log?.close();
  });

  test('no token, a token for the API server, or a made-up one: 401; health stays open', async () => {
    assert.equal((await call('/contract', undefined)).status, 401);
    assert.equal((await call('/contract', tokens.dataPlaneForApiServer)).status, 401, 'a token for another audience');
    assert.equal((await call('/contract', 'made-up-token-made-up-token')).status, 401);
    assert.equal((await call('/readyz', undefined)).status, 200);
  });

  test('the data plane may read the contract, and nothing else', async () => {
    const contract = await call('/contract', tokens.dataPlane);
    assert.equal(contract.status, 200);
    assert.equal(((await contract.json()) as { version: string }).version, 'kafka-broker.contract/v1');
    for (const pathname of ['/problems', '/', '/apis/eventing.knative.dev/v1/brokers']) {
      const response = await call(pathname, tokens.dataPlane);
      assert.equal(response.status, 403, pathname);
    }
    const denied = await replay(tokens.dataPlane);
    assert.equal(denied.status, 403);
    assert.equal(((await denied.json()) as { message: string }).message, `system:serviceaccount:${SYSTEM_NAMESPACE}:kafka-broker-data-plane may not POST /dead-letters/replay`);
    assert.deepEqual(replays, []);
  });

  test('an account RBAC grants nothing may not even read the contract', async () => {
    assert.equal((await call('/contract', tokens.nobody)).status, 403);
    assert.equal((await replay(tokens.nobody)).status, 403);
    assert.deepEqual(replays, []);
  });

  test('an operator (kafka-broker-operator) reads objects and problems, and replays', async () => {
    assert.equal((await call('/apis/eventing.knative.dev/v1/brokers', tokens.operator)).status, 200);
    assert.equal((await call('/problems', tokens.operator)).status, 200);
    assert.equal((await call('/contract', tokens.operator)).status, 200);
    assert.equal((await replay(tokens.operator)).status, 200);
    assert.equal(replays.length, 1);
  });

  test('a text/plain post from another origin is refused before anyone is asked', async () => {
    const response = await call('/dead-letters/replay', tokens.operator, { method: 'POST', headers: { 'content-type': 'text/plain', origin: 'http://evil.example' }, body: '{"all":true}' });
    assert.equal(response.status, 403);
    assert.equal(replays.length, 1);
  });

  test("the data plane's contract source reads its token file before each request: a rotated token is used at once", async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kb-token-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'token');
    await writeFile(file, tokens.nobody);
    const source = new HttpContractSource({
      url: `${running.adminUrl}/contract`, logger: silentLogger(), timeoutSeconds: 1, retryMinMs: 50, retryMaxMs: 200,
      token: async () => (await readFile(file, 'utf8')).trim(),
    }).start();
    t.after(() => source.close());
    await waitUntil(() => source.stats().errors >= 2, { timeoutMs: 30_000, message: 'refused with the wrong token' });
    assert.equal(source.current(), undefined);
    // As the kubelet does when it renews a projected token: the file's content changes.
    await writeFile(file, tokens.dataPlane);
    const contract = await Promise.race([source.first(), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no contract with the new token')), 15_000))]);
    assert.ok(contract.generation > 0);
  });
});
