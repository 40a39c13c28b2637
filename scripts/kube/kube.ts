// Starts a real etcd and a real kube-apiserver on loopback for the Kubernetes-mode tests and for
// development, applies crds/ and waits until they are Established. Nothing is mocked: the
// binaries are built from Kubernetes' and etcd's published Go modules (./build.ts).
//
//   test / main.ts ──HTTPS, bearer token──▶ kube-apiserver 127.0.0.1:<free port>
//                                             │ HTTPS, client certificate
//                                             ▼
//                                           etcd 127.0.0.1:<free port>, data in a temp dir
//
// Choices, for tests on a shared machine:
// - Authorization is RBAC, as in a real cluster. The admin token is in system:masters, which RBAC
//   always allows; `users` adds token identities with no rights until a test grants them some,
//   so a test can check the controller's own ClusterRole.
// - Admission: the ServiceAccount plugin is off, because it wants each namespace's default
//   ServiceAccount, which kube-controller-manager (not run here) creates; the API server's own
//   defaults stay on. Namespaces being deleted stay Terminating for the same reason.
// - etcd runs with --unsafe-no-fsync: its data is thrown away at stop, and fsync on a shared disk
//   is what makes a test API server slow.
// - Every start has its own temp dir, ports, certificates and token; processes left behind by a
//   killed test run are found by their temp dir's owner.pid and ended on the next start.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Agent, fetch } from 'undici';
import { parseAllDocuments, stringify } from 'yaml';
import { freePorts } from '../net/ports.js';
import { ensureKubeBinaries, isAlive, type KubeBinaries } from './build.js';
import { generateKubePki, type KubePki } from './pki.js';

export interface KubeUser {
  /** The user name RBAC sees (e.g. `system:serviceaccount:knative-eventing:kafka-broker-controller`). */
  readonly name: string;
  readonly groups?: readonly string[];
}

export interface StartKubeApiServerOptions {
  /** Binaries to run; by default KUBE_APISERVER_BIN / ETCD_BIN from `env`, else the cached builds (built if missing). */
  readonly binaries?: KubeBinaries;
  /** Read for KUBE_APISERVER_BIN, ETCD_BIN and the Go build's environment; defaults to process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Folder of CustomResourceDefinitions to apply and wait for; the repository's crds/ by default, null for none. */
  readonly crdsDir?: string | null;
  /** Extra identities, each with a bearer token (in `tokens`), subject to RBAC. */
  readonly users?: readonly KubeUser[];
  readonly onProgress?: (line: string) => void;
  /** From the processes' start until the CRDs are Established. */
  readonly readyTimeoutMs?: number;
}

/** The `iss` of the service-account tokens the test API server issues (TokenRequest). */
export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export interface KubeApiServer {
  /** `https://127.0.0.1:<port>` */
  readonly url: string;
  /** Bearer token of `admin` (group system:masters: allowed everything). */
  readonly token: string;
  /** Bearer tokens of the `users` option, by user name. */
  readonly tokens: Readonly<Record<string, string>>;
  /** PEM file of the CA that signed the API server's certificate. */
  readonly caFile: string;
  /** The same CA, in memory. */
  readonly ca: string;
  /** A kubeconfig for the admin (context `kafka-broker-test`), e.g. for `KUBECONFIG=... kubectl`. */
  readonly kubeconfigPath: string;
  /** The processes' logs (removed by stop). */
  readonly logFiles: { readonly etcd: string; readonly apiServer: string };
  /** Resolves if etcd or the API server dies on its own (never after stop()), with the reason and its log's tail. */
  readonly crashed: Promise<string>;
  /** Ends both processes and removes the temp dir; safe to call more than once. */
  stop(): Promise<void>;
}

/** A failure worth one line to the user; `message` may carry a log tail on the following lines. */
export class KubeStartError extends Error {
  override name = 'KubeStartError';
}

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DEFAULT_CRDS_DIR = join(REPO_ROOT, 'crds');
const TEMP_PREFIX = 'kafka-broker-kube-';
const OWNER_FILE = 'owner.pid';
const PIDS_FILE = 'children.pid';
const ADMIN_USER = 'admin';
const FIELD_MANAGER = 'kafka-broker-test-harness';

// Generous: a cold start of the API server on a busy 2-core machine; a warm one takes seconds.
const DEFAULT_READY_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 10_000;
const POLL_MS = 100;
const LOG_TAIL_LINES = 30;
const START_ATTEMPTS = 3;

export async function startKubeApiServer(options: StartKubeApiServerOptions = {}): Promise<KubeApiServer> {
  const progress = options.onProgress ?? (() => {});
  const env = options.env ?? process.env;
  for (const user of options.users ?? []) {
    if (!/^[^",\s]+$/.test(user.name) || (user.groups ?? []).some((g) => !/^[^",\s]+$/.test(g))) {
      throw new KubeStartError(`user ${JSON.stringify(user)}: names and groups may not contain commas, quotes or spaces (--token-auth-file is CSV)`);
    }
  }
  await reapOrphans(progress);
  const binaries = options.binaries ?? (await ensureKubeBinaries({ env, onProgress: progress }));
  // Counted from here: a first build takes minutes and has no deadline of its own.
  const deadline = Date.now() + (options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS);
  const crdsDir = options.crdsDir === undefined ? DEFAULT_CRDS_DIR : options.crdsDir;

  const workDir = await mkdtemp(join(tmpdir(), TEMP_PREFIX));
  await writeFile(join(workDir, OWNER_FILE), `${process.pid}\n`);
  const children: ChildProcess[] = [];
  let stopped = false;
  // Covers process.exit() and uncaught errors in the caller: the servers must not outlive us.
  const onExit = (): void => {
    for (const child of children) if (isRunning(child)) child.kill('SIGKILL');
    rmSync(workDir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  let agent: Agent | undefined;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onExit);
    await agent?.close();
    // The API server first: it would otherwise log etcd connection errors while shutting down.
    for (const child of [...children].reverse()) await terminate(child);
    await rm(workDir, { recursive: true, force: true });
  };

  try {
    const pki = await generateKubePki(workDir);
    const ca = await readFile(pki.caFile, 'utf8');
    agent = new Agent({ connect: { ca } });
    const token = newToken();
    const tokens = Object.fromEntries((options.users ?? []).map((user) => [user.name, newToken()]));
    const tokenFile = join(workDir, 'tokens.csv');
    await writeFile(tokenFile, tokenFileContents([{ name: ADMIN_USER, groups: ['system:masters'] }, ...(options.users ?? [])], { [ADMIN_USER]: token, ...tokens }), { mode: 0o600 });
    const logFiles = { etcd: join(workDir, 'etcd.log'), apiServer: join(workDir, 'kube-apiserver.log') };

    const etcdClient = await etcdClientAgent(pki);
    let etcdUrl = '';
    try {
      for (let attempt = 1; ; attempt++) {
        const [clientPort, peerPort] = await freePorts(2);
        etcdUrl = `https://127.0.0.1:${clientPort}`;
        const etcd = spawnLogged(binaries.etcd, etcdArgs(workDir, pki, etcdUrl, peerPort as number), logFiles.etcd);
        children.push(etcd);
        await recordChildren(workDir, children);
        progress(`etcd starting on ${etcdUrl} (pid ${etcd.pid})`);
        const outcome = await waitReady(etcd, logFiles.etcd, deadline, () => etcdHealthy(etcdUrl, etcdClient));
        if (outcome === 'ready') break;
        children.pop();
        if (attempt >= START_ATTEMPTS || !outcome.includes('address already in use')) throw new KubeStartError(`etcd did not start: ${outcome}`);
        progress('etcd lost a port race; retrying on other ports');
        await rm(join(workDir, 'etcd-data'), { recursive: true, force: true });
      }
    } finally {
      await etcdClient.close();
    }

    let url = '';
    for (let attempt = 1; ; attempt++) {
      const [securePort] = await freePorts(1);
      url = `https://127.0.0.1:${securePort}`;
      const apiServer = spawnLogged(binaries.kubeApiServer, apiServerArgs(workDir, pki, etcdUrl, securePort as number, tokenFile), logFiles.apiServer);
      children.push(apiServer);
      await recordChildren(workDir, children);
      progress(`kube-apiserver starting on ${url} (pid ${apiServer.pid})`);
      const readyz = `${url}/readyz`;
      const outcome = await waitReady(apiServer, logFiles.apiServer, deadline, async () => {
        const response = await fetch(readyz, { dispatcher: agent, headers: { authorization: `Bearer ${token}` } });
        await response.body?.cancel();
        return response.status === 200;
      });
      if (outcome === 'ready') break;
      children.pop();
      if (attempt >= START_ATTEMPTS || !outcome.includes('address already in use')) throw new KubeStartError(`kube-apiserver did not become ready: ${outcome}`);
      progress('kube-apiserver lost a port race; retrying on another port');
    }

    const kubeconfigPath = join(workDir, 'kubeconfig.yaml');
    await writeFile(kubeconfigPath, kubeconfig(url, ca, token), { mode: 0o600 });

    if (crdsDir !== null) {
      const names = await applyCrds({ url, token, agent }, crdsDir);
      progress(`applied ${names.length} CRDs from ${crdsDir}; waiting until they are Established`);
      await waitEstablished({ url, token, agent }, names, deadline);
    }

    const watched = [
      { child: children[0], name: 'etcd', log: logFiles.etcd },
      { child: children[1], name: 'kube-apiserver', log: logFiles.apiServer },
    ];
    const report = ({ child, name, log }: (typeof watched)[number]): string => `${name} exited (${child?.signalCode ?? `code ${child?.exitCode}`})\n${logTail(log)}`;
    for (const entry of watched) if (!entry.child || !isRunning(entry.child)) throw new KubeStartError(report(entry));
    const crashed = new Promise<string>((resolve) => {
      for (const entry of watched) {
        entry.child?.once('exit', () => {
          if (!stopped) resolve(report(entry));
        });
      }
    });
    return { url, token, tokens, caFile: pki.caFile, ca, kubeconfigPath, logFiles, crashed, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The minimal connection details other functions here need. */
export interface KubeConnection {
  readonly url: string;
  readonly token: string;
  readonly agent: Agent;
}

/**
 * Applies every CustomResourceDefinition in the folder's *.yaml files with server-side apply (as
 * `kubectl apply --server-side` would) and returns their names.
 */
export async function applyCrds(connection: KubeConnection, dir: string): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => (f.endsWith('.yaml') || f.endsWith('.yml')) && f !== 'kustomization.yaml').sort();
  const names: string[] = [];
  for (const file of files) {
    for (const document of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) {
      if (document.errors.length > 0) throw new KubeStartError(`${file}: ${document.errors[0]?.message}`);
      const crd = document.toJS() as { kind?: string; metadata?: { name?: string } } | null;
      if (crd === null) continue;
      const name = crd.metadata?.name;
      if (crd.kind !== 'CustomResourceDefinition' || !name) throw new KubeStartError(`${file}: expected CustomResourceDefinitions only, found ${crd.kind ?? 'a document without kind'}`);
      const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}?fieldManager=${FIELD_MANAGER}&force=true`;
      const response = await fetch(`${connection.url}${path}`, {
        method: 'PATCH',
        dispatcher: connection.agent,
        headers: { authorization: `Bearer ${connection.token}`, 'content-type': 'application/apply-patch+yaml' },
        body: JSON.stringify(crd), // JSON is YAML, and what the server parses fastest
      });
      if (!response.ok) throw new KubeStartError(`applying ${file} (${name}) failed: ${response.status} ${await response.text()}`);
      await response.body?.cancel();
      names.push(name);
    }
  }
  return names;
}

/**
 * Waits until each CRD is Established (its names are accepted and the API server serves it), its
 * resource answers a list, and a dry-run create goes through. The last step matters: right after
 * /readyz, the first write of any custom resource waits about 2 s for the API server's admission
 * chain to finish starting; the probe takes that wait here, so a test's first create is fast.
 */
export async function waitEstablished(connection: KubeConnection, crdNames: readonly string[], deadline: number): Promise<void> {
  const get = async (path: string): Promise<{ status: number; body: unknown }> => {
    const response = await fetch(`${connection.url}${path}`, { dispatcher: connection.agent, headers: { authorization: `Bearer ${connection.token}` } });
    return { status: response.status, body: await response.json().catch(() => null) };
  };
  for (const name of crdNames) {
    let last: string;
    for (;;) {
      const { status, body } = await get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
      const crd = body as CrdStatusView | null;
      const established = crd?.status?.conditions?.find((c) => c.type === 'Established');
      last = established ? `Established=${established.status} (${established.reason ?? ''}: ${established.message ?? ''})` : `HTTP ${status}`;
      if (established?.status === 'True' && crd?.spec) {
        const version = crd.spec.versions.find((v) => v.served)?.name;
        const scope = crd.spec.scope === 'Namespaced' ? '/namespaces/default' : '';
        const collection = `/apis/${crd.spec.group}/${version}${scope}/${crd.spec.names.plural}`;
        const list = await get(`${collection}?limit=1`);
        if (list.status === 200) {
          const probe = await fetch(`${connection.url}${collection}?dryRun=All`, {
            method: 'POST',
            dispatcher: connection.agent,
            headers: { authorization: `Bearer ${connection.token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ apiVersion: `${crd.spec.group}/${version}`, kind: crd.spec.names.kind, metadata: { generateName: 'readiness-probe-' } }),
          });
          await probe.body?.cancel();
          // 422: the CRD's schema requires fields the probe lacks, yet the request went through admission.
          if (probe.status === 201 || probe.status === 422) break;
          last = `Established, but a dry-run create answers ${probe.status}`;
        } else {
          last = `Established, but listing answers ${list.status}`;
        }
      }
      if (Date.now() > deadline) throw new KubeStartError(`CRD ${name} was not established in time: ${last}`);
      await sleep(POLL_MS);
    }
  }
}

interface CrdStatusView {
  spec?: { group: string; scope: string; names: { plural: string; kind: string }; versions: { name: string; served: boolean }[] };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

function etcdArgs(workDir: string, pki: KubePki, clientUrl: string, peerPort: number): string[] {
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  return [
    '--name=test',
    `--data-dir=${join(workDir, 'etcd-data')}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    // One member: the peer URL is never dialled, but must not be the default :2380 another etcd may hold.
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=test=${peerUrl}`,
    `--cert-file=${pki.etcdServer.certFile}`,
    `--key-file=${pki.etcdServer.keyFile}`,
    `--trusted-ca-file=${pki.caFile}`,
    '--client-cert-auth', // only the API server (holding a certificate from our CA) may talk to it
    '--unsafe-no-fsync',
    '--log-level=warn',
  ];
}

function apiServerArgs(workDir: string, pki: KubePki, etcdUrl: string, securePort: number, tokenFile: string): string[] {
  return [
    `--etcd-servers=${etcdUrl}`,
    `--etcd-cafile=${pki.caFile}`,
    `--etcd-certfile=${pki.apiServerEtcdClient.certFile}`,
    `--etcd-keyfile=${pki.apiServerEtcdClient.keyFile}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${securePort}`,
    `--tls-cert-file=${pki.apiServer.certFile}`,
    `--tls-private-key-file=${pki.apiServer.keyFile}`,
    `--cert-dir=${join(workDir, 'apiserver-certs')}`,
    `--token-auth-file=${tokenFile}`,
    '--anonymous-auth=false',
    '--authorization-mode=RBAC',
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    // The discovery document names a JWKS address a test can reach (the issuer's host is not resolvable here).
    `--service-account-jwks-uri=https://127.0.0.1:${securePort}/openid/v1/jwks`,
    `--service-account-key-file=${pki.serviceAccountPublicKeyFile}`,
    `--service-account-signing-key-file=${pki.serviceAccountKeyFile}`,
    '--service-cluster-ip-range=10.0.0.0/24',
    // The `kubernetes` Service's endpoints would be 127.0.0.1, which Endpoints validation rejects.
    '--endpoint-reconciler-type=none',
    '--disable-admission-plugins=ServiceAccount',
    '--profiling=false',
  ];
}

function tokenFileContents(users: readonly KubeUser[], tokens: Readonly<Record<string, string>>): string {
  // --token-auth-file is CSV: token,user,uid[,"group1,group2"] (an empty fourth column would be a group named "")
  return users
    .map((user, index) => {
      const groups = user.groups ?? [];
      return `${tokens[user.name]},${user.name},uid-${index}${groups.length > 0 ? `,"${groups.join(',')}"` : ''}\n`;
    })
    .join('');
}

function kubeconfig(url: string, ca: string, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'kafka-broker-test', cluster: { server: url, 'certificate-authority-data': Buffer.from(ca).toString('base64') } }],
    users: [{ name: ADMIN_USER, user: { token } }],
    contexts: [{ name: 'kafka-broker-test', context: { cluster: 'kafka-broker-test', user: ADMIN_USER, namespace: 'default' } }],
    'current-context': 'kafka-broker-test',
  });
}

function newToken(): string {
  return randomBytes(24).toString('base64url');
}

function spawnLogged(binary: string, args: string[], logFile: string): ChildProcess {
  const fd = openSync(logFile, 'a');
  try {
    // detached: a process group of its own, so a terminal's Ctrl-C reaches only us and stop()
    // ends the servers in order. unref: they must not keep the caller's event loop alive; stop()
    // or the exit hook ends them.
    const child = spawn(binary, args, { stdio: ['ignore', fd, fd], detached: true });
    child.unref();
    return child;
  } finally {
    closeSync(fd);
  }
}

/** Polls `isReady` until it is true ('ready'), or returns why not: the process exited, or the deadline passed. */
async function waitReady(child: ChildProcess, logFile: string, deadline: number, isReady: () => Promise<boolean>): Promise<'ready' | string> {
  let exited: string | undefined;
  child.once('error', (error) => (exited = `could not run it: ${error.message}`));
  child.once('exit', (code, signal) => (exited = `exited with ${signal ?? `code ${code}`}`));
  let lastError = '';
  for (;;) {
    if (exited) return `${exited}\n${logTail(logFile)}`;
    try {
      if (await isReady()) return 'ready';
    } catch (error) {
      lastError = error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error);
    }
    if (Date.now() > deadline) {
      await terminate(child);
      return `timed out${lastError ? ` (last error: ${lastError})` : ''}\n${logTail(logFile)}`;
    }
    await sleep(POLL_MS);
  }
}

/** etcd's /health needs a client certificate too (--client-cert-auth): the API server's will do. */
async function etcdClientAgent(pki: KubePki): Promise<Agent> {
  const [ca, cert, key] = await Promise.all([readFile(pki.caFile), readFile(pki.apiServerEtcdClient.certFile), readFile(pki.apiServerEtcdClient.keyFile)]);
  return new Agent({ connect: { ca, cert, key } });
}

async function etcdHealthy(url: string, agent: Agent): Promise<boolean> {
  const response = await fetch(`${url}/health`, { dispatcher: agent });
  const body = (await response.json()) as { health?: string };
  return response.status === 200 && body.health === 'true';
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

async function terminate(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(killer); // a pending timer would hold the caller's event loop open
  }
}

function logTail(logFile: string): string {
  try {
    const lines = readFileSync(logFile, 'utf8').trimEnd().split('\n');
    return lines.slice(-LOG_TAIL_LINES).join('\n');
  } catch {
    return '(no log)';
  }
}

async function recordChildren(workDir: string, children: readonly ChildProcess[]): Promise<void> {
  await writeFile(join(workDir, PIDS_FILE), children.map((c) => `${c.pid}\n`).join(''));
}

/**
 * Ends the servers of earlier runs whose owner died without stopping them (a killed test
 * process), so they don't pile up. A pid is only killed if its command line names that run's
 * temp dir, so a reused pid is never hit.
 */
async function reapOrphans(progress: (line: string) => void): Promise<void> {
  const base = tmpdir();
  for (const entry of await readdir(base).catch(() => [] as string[])) {
    if (!entry.startsWith(TEMP_PREFIX)) continue;
    const dir = join(base, entry);
    const owner = Number.parseInt(await readFile(join(dir, OWNER_FILE), 'utf8').catch(() => ''), 10);
    if (!Number.isInteger(owner) || isAlive(owner)) continue;
    const pids = (await readFile(join(dir, PIDS_FILE), 'utf8').catch(() => '')).split('\n').map((s) => Number.parseInt(s, 10)).filter(Number.isInteger);
    for (const pid of pids) {
      if (commandLine(pid).includes(dir)) {
        progress(`ending pid ${pid}, left running by a run (pid ${owner}) that is gone`);
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

