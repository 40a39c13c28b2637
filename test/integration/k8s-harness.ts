import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import type { OidcSettings } from '../../broker-ingress/sender-auth.js';
import type { OidcTokenIssuer } from '../../controller/kubernetes/oidc-tokens.js';
import { ingressConfigSchema } from '../../broker-ingress/config.js';
import { startIngress, type RunningIngress } from '../../broker-ingress/main.js';
import { HttpContractSource } from '../../core/contract/http-source.js';
import { InProcessContractSource } from '../../core/contract/source.js';
import { dispatcherConfigSchema } from '../../dispatcher/config.js';
import { FaultReporter, faultsUrlOf } from '../../dispatcher/fault-reporter.js';
import { startDispatcher, type RunningDispatcher } from '../../dispatcher/main.js';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { SERVICE_ACCOUNT_ISSUER } from '../../scripts/kube/kube.js';
import { KubeApi } from '../../controller/kubernetes/api.js';
import { kubernetesControllerConfigSchema, type KubernetesControllerConfig } from '../../controller/kubernetes/config.js';
import type { KubernetesController, KubernetesControllerOptions } from '../../controller/kubernetes/controller.js';
import { startKubernetesController, type RunningKubernetesController } from '../../controller/kubernetes/main.js';
import { loadConfig } from '../../core/config.js';
import type { OpenClusterLog } from '../../core/event-log/clusters.js';
import type { EventLog } from '../../core/event-log/port.js';
import { createLogger, silentLogger, type Logger } from '../../core/logger.js';
import type { KubeTestClient } from '../helpers/kube.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * What the Kubernetes-mode scenarios share: a KubeApi for any identity of the test API server,
 * a controller (in-process) with its admin server serving the contract, and Knative objects.
 *
 *   test ──kube (admin)──▶ kube-apiserver ◀──informers, status, lease── KubernetesController
 *                                                                          │ contract
 *   data plane ◀── GET /contract?after=g ─────── admin server (port 0) ◀───┘
 */

export const SYSTEM_NAMESPACE = 'knative-eventing';
export const CONTROLLER_USER = `system:serviceaccount:${SYSTEM_NAMESPACE}:kafka-broker-controller`;

/** A KubeApi for the admin, or for another identity of the test API server by its token. */
export function kubeApiFor(kube: KubeTestClient, token = kube.server.token): KubeApi {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server: kube.server.url, caData: Buffer.from(kube.server.ca).toString('base64') }],
    users: [{ name: 'test', token }],
    contexts: [{ name: 'test', cluster: 'test', user: 'test' }],
    currentContext: 'test',
  });
  return new KubeApi(kc);
}

/** A kubeconfig file's text for an identity (for the CLI's --kubeconfig). */
export function kubeconfigYaml(kube: KubeTestClient, token = kube.server.token): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: test`,
    `  cluster: { server: "${kube.server.url}", certificate-authority-data: "${Buffer.from(kube.server.ca).toString('base64')}" }`,
    'users:',
    `- name: test`,
    `  user: { token: "${token}" }`,
    'contexts:',
    '- name: test',
    '  context: { cluster: test, user: test }',
    'current-context: test',
    '',
  ].join('\n');
}

export async function ensureNamespace(kube: KubeTestClient, name: string): Promise<void> {
  const created = await kube.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  if (created.status !== 201 && created.status !== 409) throw new Error(`namespace ${name}: ${created.status} ${JSON.stringify(created.body)}`);
}

/** Silent, unless K8S_TEST_LOG names a file for the controllers' debug logs (for investigating a failure). */
export function testLogger(): Logger {
  const file = process.env['K8S_TEST_LOG'];
  return file ? createLogger({ level: 'debug', destination: pino.destination({ dest: file, sync: true, append: true }) as unknown as NodeJS.WritableStream }) : silentLogger();
}

/** Test-speed settings: quick retries, short grace and leases. */
export function testConfig(overrides: Record<string, unknown> = {}): KubernetesControllerConfig {
  return loadConfig(kubernetesControllerConfigSchema, {
    systemNamespace: SYSTEM_NAMESPACE,
    topicPartitions: 2,
    retryMinMs: 100,
    retryMaxMs: 2000,
    deleteGraceMs: 300,
    leaseDurationMs: 3000,
    renewDeadlineMs: 2000,
    retryPeriodMs: 400,
    addressRefreshMs: 500,
    configMapRefreshMs: 500,
    secretCacheMs: 500,
    notInstalledRetryMs: 2000,
    ...overrides,
  });
}

export interface RunningController {
  readonly controller: KubernetesController;
  readonly api: KubeApi;
  /** The admin server's base URL; the contract is at `${adminUrl}/contract`. */
  readonly adminUrl: string;
  readonly admin: FastifyInstance;
  /** The OIDC tokens it issues to the data plane (`GET /oidc-tokens`). */
  readonly tokens: OidcTokenIssuer;
  close(): Promise<void>;
}

export interface StartControllerOptions {
  readonly kube: KubeTestClient;
  readonly log: EventLog;
  /** Opens a log for a cluster a Broker's ConfigMap names (credentials from the Secret it names). */
  readonly openCluster?: OpenClusterLog;
  readonly config?: KubernetesControllerConfig;
  /** Another identity's token (RBAC tests); the admin's by default. */
  readonly token?: string;
  readonly logger?: Logger;
  readonly source?: KubernetesControllerOptions['source'];
  /** More routes on its admin server. */
  readonly registerRoutes?: (admin: FastifyInstance) => void;
}

/**
 * A controller in this process with its admin server on port 0; `close` releases its Lease.
 * Closed after the test when `t` is given (else by the caller).
 */
export async function startController(t: { after(fn: () => Promise<void>): void } | undefined, options: StartControllerOptions): Promise<RunningController> {
  const api = kubeApiFor(options.kube, options.token);
  let started: RunningKubernetesController;
  try {
    started = await startKubernetesController({
      api,
      log: options.log,
      ...(options.openCluster === undefined ? {} : { openCluster: options.openCluster }),
      config: options.config ?? testConfig(),
      logger: options.logger ?? testLogger(),
      host: '127.0.0.1',
      port: 0,
      source: { watchRetryMinMs: 100, watchRetryMaxMs: 1000, writeRetryMinMs: 50, writeRetryMaxMs: 1000, ...options.source },
      ...(options.registerRoutes === undefined ? {} : { registerRoutes: options.registerRoutes }),
    });
  } catch (error) {
    await api.close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= started.close().finally(() => api.close());
    return closing;
  };
  t?.after(close);
  return { controller: started.controller, api, adminUrl: started.adminUrl, admin: started.admin, tokens: started.tokens, close };
}

// ---- Knative objects ----

export const BROKERS = (ns: string, name?: string): string => `/apis/eventing.knative.dev/v1/namespaces/${ns}/brokers${name === undefined ? '' : `/${name}`}`;
export const TRIGGERS = (ns: string, name?: string): string => `/apis/eventing.knative.dev/v1/namespaces/${ns}/triggers${name === undefined ? '' : `/${name}`}`;

export function broker(ns: string, name: string, spec: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'eventing.knative.dev/v1',
    kind: 'Broker',
    metadata: { name, namespace: ns, annotations: { 'eventing.knative.dev/broker.class': 'Kafka' } },
    spec: { delivery: { retry: 2, backoffPolicy: 'linear', backoffDelay: 'PT0.1S' }, ...spec },
  };
}

export function trigger(ns: string, name: string, brokerName: string, subscriber: Record<string, unknown>, filter?: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'eventing.knative.dev/v1',
    kind: 'Trigger',
    metadata: { name, namespace: ns },
    spec: { broker: brokerName, subscriber, ...(filter === undefined ? {} : { filter }) },
  };
}

export async function create(kube: KubeTestClient, path: string, object: unknown): Promise<any> {
  const created = await kube.create(path, object);
  if (created.status !== 201) throw new Error(`POST ${path}: ${created.status} ${JSON.stringify(created.body)}`);
  return created.body;
}

/** The Ready condition of an object, once its status says it observed the current generation. */
export async function readyOf(kube: KubeTestClient, path: string): Promise<{ status: string; reason?: string; message?: string } | undefined> {
  const { status, body } = await kube.get(path);
  if (status !== 200) return undefined;
  if (body.status?.observedGeneration !== body.metadata.generation) return undefined;
  return (body.status?.conditions ?? []).find((c: { type: string }) => c.type === 'Ready');
}

export async function waitForReady(kube: KubeTestClient, path: string, expected: 'True' | 'False' = 'True', timeoutMs = 60_000): Promise<{ status: string; reason?: string; message?: string }> {
  return waitUntil(async () => {
    const ready = await readyOf(kube, path);
    return ready?.status === expected ? ready : undefined;
  }, { timeoutMs, intervalMs: 100, message: `${path} Ready=${expected}` });
}

export async function waitGone(kube: KubeTestClient, path: string, timeoutMs = 60_000): Promise<void> {
  await waitUntil(async () => (await kube.get(path)).status === 404, { timeoutMs, intervalMs: 100, message: `${path} to be gone` });
}

// ---- the event log, watched ----

export interface LogCalls {
  readonly initGroup: Set<string>;
  readonly deleteGroup: Set<string>;
  readonly deleteTopic: Set<string>;
}

/** The log, with a record of the groups and topics the controller fixed and deleted (successfully). */
export function watchedLog(log: EventLog): { readonly log: EventLog; readonly calls: LogCalls } {
  const calls: LogCalls = { initGroup: new Set(), deleteGroup: new Set(), deleteTopic: new Set() };
  const recorded = new Set<string>(Object.keys(calls));
  const proxy = new Proxy(log, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      if (typeof property === 'string' && recorded.has(property)) {
        return async (...args: unknown[]) => {
          const result = await method.apply(target, args);
          calls[property as keyof LogCalls].add(String(args[0]));
          return result;
        };
      }
      return method.bind(target);
    },
  });
  return { log: proxy, calls };
}

// ---- scale: many Triggers through the API server to the data plane ----

export interface ScaleOptions {
  readonly kube: KubeTestClient;
  readonly log: EventLog;
  readonly namespace: string;
  readonly brokers: number;
  readonly triggers: number;
  /** Creates in flight at once. */
  readonly concurrency?: number;
  readonly onProgress?: (line: string) => void;
}

export interface ScaleResult {
  readonly triggers: number;
  readonly brokers: number;
  /** From the first create to the last one answered. */
  readonly createMs: number;
  /** From the first create until the data plane's contract has every Trigger's egress. */
  readonly dataPlaneMs: number;
  /** From the first create until every Trigger's status says Ready (observedGeneration current). */
  readonly statusMs: number;
  /** From deleting every Trigger and Broker until the finalizers let the last one go. */
  readonly deleteMs: number;
  readonly contractJsonBytes: number;
  readonly contractGzipBytes: number;
  /** What the data plane's HTTP contract source received (gzipped), and how many contracts. */
  readonly bytesReceived: number;
  readonly bytesDecoded: number;
  readonly contractsReceived: number;
  readonly requests: number;
  readonly generations: number;
  readonly statusWrites: number;
  /** Finalizers added (before the deletion). */
  readonly finalizerWrites: number;
  /** Leaderships the controller went through (1 unless it lost its Lease under load). */
  readonly leaderships: number;
}

function scaleFilter(i: number): Record<string, unknown> {
  switch (i % 3) {
    case 0:
      return { filter: { attributes: { type: `com.example.t${i}`, source: '/shop' } } };
    case 1:
      return { filters: [{ exact: { type: `com.example.t${i}` } }, { prefix: { source: '/shop/' } }] };
    default:
      return { filters: [{ cesql: `type = 'com.example.t${i}' AND EXISTS amount` }] };
  }
}

async function inPool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

/** Counts the Triggers of a namespace whose status is Ready for their current generation. */
async function readyTriggers(kube: KubeTestClient, ns: string): Promise<{ total: number; ready: number }> {
  let total = 0;
  let ready = 0;
  let token: string | undefined;
  do {
    const page = await kube.get(`${TRIGGERS(ns)}?limit=1000${token === undefined ? '' : `&continue=${encodeURIComponent(token)}`}`);
    for (const item of page.body.items as { metadata: { generation: number }; status?: { observedGeneration?: number; conditions?: { type: string; status: string }[] } }[]) {
      total++;
      if (item.status?.observedGeneration === item.metadata.generation && item.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ready++;
    }
    token = page.body.metadata.continue || undefined;
  } while (token !== undefined);
  return { total, ready };
}

/**
 * Applies `brokers` Brokers and `triggers` Triggers (spread evenly, a mix of filter dialects)
 * through the API server with a controller in this process, until the data plane (an
 * HttpContractSource on the controller's /contract) has them all and their statuses say Ready;
 * then deletes them all and waits until the finalizers let the last one go.
 */
export async function runScale(options: ScaleOptions): Promise<ScaleResult> {
  const { kube, log, namespace: ns, brokers, triggers } = options;
  const progress = options.onProgress ?? (() => {});
  await ensureNamespace(kube, ns);
  // Production's leader election timings (client-go's): this measures throughput, not takeover.
  const running = await startController(undefined, {
    kube, log, config: testConfig({ ingressUrl: 'http://ingress.test', writers: 32, deleteGraceMs: 200, leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 }),
  });
  const { HttpContractSource } = await import('../../core/contract/http-source.js');
  const contracts = new HttpContractSource({ url: `${running.adminUrl}/contract`, token: () => kube.server.token, logger: silentLogger(), timeoutSeconds: 30, retryMinMs: 50, retryMaxMs: 1000 }).start();
  try {
    await waitUntil(() => running.controller.notReadyReason() === undefined, { timeoutMs: 60_000, message: 'the controller leads' });
    const egresses = (): number => contracts.current()?.resources.filter((r) => r.reference.namespace === ns).reduce((n, r) => n + r.egresses.length, 0) ?? 0;
    const started = Date.now();
    await inPool(Array.from({ length: brokers }, (_, b) => b), 8, async (b) => {
      await create(kube, BROKERS(ns), broker(ns, `broker-${b}`));
    });
    const names = Array.from({ length: triggers }, (_, i) => i);
    let created = 0;
    await inPool(names, options.concurrency ?? 32, async (i) => {
      await create(kube, TRIGGERS(ns), {
        apiVersion: 'eventing.knative.dev/v1',
        kind: 'Trigger',
        metadata: { name: `trigger-${i}`, namespace: ns },
        spec: { broker: `broker-${i % brokers}`, subscriber: { uri: `http://subscriber-${i % 50}.example/t/${i}` }, ...scaleFilter(i) },
      });
      if (++created % 1000 === 0) progress(`created ${created} triggers in ${Date.now() - started} ms; the data plane has ${egresses()}`);
    });
    const createMs = Date.now() - started;
    progress(`created ${triggers} triggers in ${createMs} ms`);
    await waitUntil(() => egresses() === triggers, { timeoutMs: 30 * 60_000, intervalMs: 50, message: `${triggers} egresses in the data plane` });
    const dataPlaneMs = Date.now() - started;
    progress(`the data plane has all ${triggers} egresses after ${dataPlaneMs} ms`);
    await waitUntil(async () => {
      await running.controller.source()?.idle();
      const { ready } = await readyTriggers(kube, ns);
      return ready === triggers;
    }, { timeoutMs: 30 * 60_000, intervalMs: 500, message: `${triggers} Triggers Ready` });
    const statusMs = Date.now() - started;
    progress(`all ${triggers} Trigger statuses Ready after ${statusMs} ms`);

    const contract = contracts.current()!;
    const json = Buffer.from(JSON.stringify(contract));
    const { gzipSync } = await import('node:zlib');
    const stats = contracts.stats();
    // (writes answered after the statuses were read back are counted too)
    await running.controller.source()?.idle();
    const writes = running.controller.source()!.stats().writes;

    // As `kubectl delete triggers --all` does: one DELETE per object (a deletecollection of
    // thousands outlasts the API server's request timeout).
    const deleting = Date.now();
    const paths = [...names.map((i) => TRIGGERS(ns, `trigger-${i}`)), ...Array.from({ length: brokers }, (_, b) => BROKERS(ns, `broker-${b}`))];
    await inPool(paths, options.concurrency ?? 32, async (path) => {
      const response = await kube.delete(path);
      if (response.status !== 200 && response.status !== 202) throw new Error(`DELETE ${path}: ${response.status} ${JSON.stringify(response.body)}`);
    });
    progress(`deletes answered after ${Date.now() - deleting} ms`);
    await waitUntil(async () => (await kube.get(`${TRIGGERS(ns)}?limit=1`)).body.items.length === 0 && (await kube.get(`${BROKERS(ns)}?limit=1`)).body.items.length === 0, {
      timeoutMs: 30 * 60_000, intervalMs: 500, message: 'every Trigger and Broker gone',
    });
    const deleteMs = Date.now() - deleting;
    progress(`deleted every trigger and broker (groups and topics first) in ${deleteMs} ms`);
    return {
      triggers, brokers, createMs, dataPlaneMs, statusMs, deleteMs,
      contractJsonBytes: json.length,
      contractGzipBytes: gzipSync(json).length,
      bytesReceived: stats.bytesReceived,
      bytesDecoded: stats.bytesDecoded,
      contractsReceived: stats.contracts,
      requests: stats.requests,
      generations: contract.generation,
      statusWrites: writes.status,
      finalizerWrites: writes.finalizersAdded,
      leaderships: running.controller.leaderships().length,
    };
  } finally {
    await contracts.close();
    await running.close();
  }
}

export interface InProcessBroker {
  readonly ingress: RunningIngress;
  readonly running: RunningController;
  readonly contracts: HttpContractSource;
  readonly dispatcher: RunningDispatcher;
}

/**
 * The whole product in one test process, wired as in the cluster: the controller serves the
 * contract over HTTP and the data plane fetches it. The ingress's URL is the resources' address,
 * so it is bound before the controller starts and reads the fetched contract through a relay.
 */
export async function startInProcessBroker(kube: KubeTestClient, log: EventLog, config: Record<string, unknown> = {}): Promise<InProcessBroker> {
  const relay = new InProcessContractSource();
  const ingress = await startIngress({ config: loadConfig(ingressConfigSchema, { host: '127.0.0.1', port: 0 }), log, contracts: relay, logger: silentLogger() });
  const running = await startController(undefined, { kube, log, config: testConfig({ ingressUrl: ingress.url, ...config }) });
  const contracts = new HttpContractSource({ url: `${running.adminUrl}/contract`, token: () => kube.server.token, logger: silentLogger(), timeoutSeconds: 5, retryMinMs: 50, retryMaxMs: 500 }).start();
  contracts.subscribe((contract) => relay.publish(contract));
  const dispatcher = await startDispatcher({
    config: dispatcherConfigSchema.parse({ shutdownDeadlineMs: 2000, egressRestartBackoffMs: 300, commitIntervalMs: 200 }),
    log,
    contracts,
    logger: silentLogger(),
  });
  return { ingress, running, contracts, dispatcher };
}

export interface ReportingDataPlane {
  readonly running: RunningController;
  /** The ingress's contract source, then the dispatcher's; each reports what it applied. */
  readonly sources: readonly [HttpContractSource, HttpContractSource];
  readonly ingress: RunningIngress;
  readonly dispatcher: RunningDispatcher;
  /** Closes all of it, the data plane first; the log is the caller's. */
  close(): Promise<void>;
}

/**
 * A controller and a data plane in this process, wired as `kafka-broker ingress` and `dispatcher`
 * are in the cluster: each fetches the contract over HTTP and reports the generation it applied
 * (as ingress-1 and dispatcher-1), and the dispatcher posts its faults and rewinds back to the
 * controller. The resources' address is a dead port: the scenario sends to `ingress.url` itself.
 */
export async function startReportingDataPlane(kube: KubeTestClient, log: EventLog, dispatcherConfig: Record<string, unknown>): Promise<ReportingDataPlane> {
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const closer of closers.splice(0).reverse()) await closer();
  };
  try {
    const running = await startController(undefined, { kube, log, config: testConfig({ ingressUrl: 'http://127.0.0.1:1' }) });
    closers.push(() => running.close());
    const source = (role: 'ingress' | 'dispatcher'): HttpContractSource => {
      const started = new HttpContractSource({
        url: `${running.adminUrl}/contract`, logger: silentLogger(), timeoutSeconds: 5, retryMinMs: 50, retryMaxMs: 500, reportAs: { process: `${role}-1`, role }, token: () => kube.server.token,
      }).start();
      closers.push(() => started.close());
      return started;
    };
    const sources = [source('ingress'), source('dispatcher')] as const;
    const ingress = await startIngress({ config: loadConfig(ingressConfigSchema, { host: '127.0.0.1', port: 0 }), log, contracts: sources[0], logger: silentLogger() });
    closers.push(() => ingress.close());
    // The reporter needs the dispatcher, and the dispatcher tells the reporter of changes.
    const reporting: { reporter?: FaultReporter } = {};
    const dispatcher = await startDispatcher({
      config: dispatcherConfigSchema.parse(dispatcherConfig), log, contracts: sources[1], logger: silentLogger(), onFaults: () => reporting.reporter?.changed(),
    });
    closers.push(() => dispatcher.close());
    const reporter = new FaultReporter({
      url: faultsUrlOf(`${running.adminUrl}/contract`), process: 'dispatcher-1', faults: () => dispatcher.faults(), rewinds: () => dispatcher.rewindOutcomes(),
      logger: silentLogger(), debounceMs: 50, token: () => kube.server.token,
    });
    reporting.reporter = reporter;
    closers.push(() => reporter.close());
    return { running, sources, ingress, dispatcher, close };
  } catch (error) {
    await close();
    throw error;
  }
}

// ---- OIDC ----

/**
 * OIDC settings that trust what the test API server issues (its ServiceAccount issuer, discovery
 * document and CA), reading them with the admin's token from a file; the file's folder is removed
 * after the test file. For an ingress's `oidc` and for a subscriber's TokenVerifier.
 */
export async function kubeOidc(kube: KubeTestClient): Promise<OidcSettings> {
  const dir = await mkdtemp(join(tmpdir(), 'kube-oidc-'));
  after(() => rm(dir, { recursive: true, force: true }));
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, kube.server.token);
  return { issuer: SERVICE_ACCOUNT_ISSUER, discoveryUrl: `${kube.server.url}/.well-known/openid-configuration`, caFile: kube.server.caFile, tokenFile };
}

/** A ServiceAccount (and its namespace). */
export async function createServiceAccount(kube: KubeTestClient, namespace: string, name: string): Promise<void> {
  await ensureNamespace(kube, namespace);
  await create(kube, `/api/v1/namespaces/${namespace}/serviceaccounts`, { metadata: { name } });
}

/** A token of a ServiceAccount for an audience, an hour long, as TokenRequest issues it. */
export async function serviceAccountToken(kube: KubeTestClient, namespace: string, name: string, audience: string): Promise<string> {
  const response = await kube.create(`/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, { spec: { audiences: [audience], expirationSeconds: 3600 } });
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return (response.body as { status: { token: string } }).status.token;
}

export interface OidcFrontDoor {
  /** Checks senders' tokens with the `oidc` settings given. */
  readonly ingress: RunningIngress;
  /** With authentication-oidc enabled: audiences, EventPolicies, identities and `/oidc-tokens`. */
  readonly running: RunningController;
  /** The controller's contract feed, which the ingress reads (through a relay). */
  readonly contracts: HttpContractSource;
}

/**
 * An ingress that checks tokens and a controller with authentication-oidc enabled, in this process
 * and wired as in the cluster (the contract over HTTP). The ingress's URL is the resources'
 * address, so it is bound first and reads the fetched contract through a relay. Closed after `t`.
 */
export async function startOidcFrontDoor(t: { after(fn: () => Promise<void>): void }, kube: KubeTestClient, log: EventLog, oidc: OidcSettings): Promise<OidcFrontDoor> {
  const relay = new InProcessContractSource();
  const ingress = await startIngress({ config: loadConfig(ingressConfigSchema, { host: '127.0.0.1', port: 0, oidc }), log, contracts: relay, logger: silentLogger() });
  t.after(() => ingress.close());
  await ensureNamespace(kube, SYSTEM_NAMESPACE);
  const running = await startController(t, { kube, log, config: testConfig({ ingressUrl: ingress.url, authenticationOidc: 'enabled' }) });
  const contracts = new HttpContractSource({ url: `${running.adminUrl}/contract`, logger: silentLogger(), timeoutSeconds: 5, retryMinMs: 50, retryMaxMs: 500, token: () => kube.server.token }).start();
  t.after(() => contracts.close());
  contracts.subscribe((contract) => relay.publish(contract));
  return { ingress, running, contracts };
}
