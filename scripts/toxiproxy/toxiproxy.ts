// Toxiproxy (github.com/Shopify/toxiproxy), a fault-injecting TCP proxy, for the fault suite
// (test/faults): built from its Go module in ./server the way scripts/kube/build.ts builds the
// kube-apiserver, cached, and driven through its HTTP API on 127.0.0.1.
//
//   broker processes ──▶ toxiproxy (listen) ──▶ Kafka (upstream)
//                          ▲ POST /proxies, /proxies/<name>/toxics   (latency, timeout = stall,
//                          │                                          reset_peer, bandwidth, ...)
//                        the suite
//
// TOXIPROXY_BIN points at an existing server binary instead of the cached build.
import { spawn, type ChildProcess } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ensureBuilt, type BinarySpec } from '../kube/build.js';
import { freePort } from '../net/ports.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CACHE_DIR = join(REPO_ROOT, 'node_modules', '.cache', 'kafka-broker', 'toxiproxy');

const SPEC: BinarySpec = {
  name: 'toxiproxy-server',
  envVar: 'TOXIPROXY_BIN',
  moduleDir: fileURLToPath(new URL('./server/', import.meta.url)),
  inputs: ['go.mod', 'go.sum'],
  versionOf: 'github.com/Shopify/toxiproxy/v2',
  buildTarget: () => 'github.com/Shopify/toxiproxy/v2/cmd/server',
  ldflags: () => [],
};

type Env = Readonly<Record<string, string | undefined>>;

/** The server binary: $TOXIPROXY_BIN, else the cached build (built once, ~15 s plus module downloads). */
export async function ensureToxiproxy(env: Env = process.env, onProgress: (line: string) => void = () => {}): Promise<string> {
  const fromEnv = env['TOXIPROXY_BIN'];
  if (fromEnv) {
    await access(fromEnv, constants.X_OK).catch(() => {
      throw new Error(`TOXIPROXY_BIN=${fromEnv}: not an executable file`);
    });
    return fromEnv;
  }
  return ensureBuilt(SPEC, CACHE_DIR, env, onProgress);
}

/** A toxic as the API takes it; see https://github.com/Shopify/toxiproxy#toxics. */
export interface Toxic {
  readonly name: string;
  readonly type: 'latency' | 'bandwidth' | 'slow_close' | 'timeout' | 'reset_peer' | 'slicer' | 'limit_data';
  /** Which direction it acts on: client→upstream is `upstream`. */
  readonly stream?: 'upstream' | 'downstream';
  readonly toxicity?: number;
  readonly attributes: Readonly<Record<string, number>>;
}

export interface Toxiproxy {
  readonly apiUrl: string;
  /** Adds a proxy listening on 127.0.0.1:`listenPort` (0: any) for `upstream`; resolves with its port. */
  createProxy(name: string, listenPort: number, upstream: string): Promise<number>;
  addToxic(proxy: string, toxic: Toxic): Promise<void>;
  removeToxic(proxy: string, toxic: string): Promise<void>;
  /** Disabled: the listener closes and every connection through it is cut; enabled again: it listens again. */
  setEnabled(proxy: string, enabled: boolean): Promise<void>;
  /** Every proxy enabled, every toxic removed. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a toxiproxy server on a free port of 127.0.0.1 and waits for its API. */
export async function startToxiproxy(binary: string): Promise<Toxiproxy> {
  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(binary, ['-host', '127.0.0.1', '-port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  });
  // The proxy must not outlive the suite.
  const onExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', onExit);

  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${apiUrl}${path}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`toxiproxy ${method} ${path}: ${response.status} ${text.trim()}`);
    // /version answers plain text; the rest JSON.
    return (response.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text;
  };

  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`toxiproxy exited (${child.exitCode}): ${output.trim()}`);
    if (await call('GET', '/version').then(() => true, () => false)) break;
    if (Date.now() > deadline) throw new Error(`toxiproxy did not answer on ${apiUrl} within 15 s: ${output.trim()}`);
    await sleep(100);
  }

  return {
    apiUrl,
    async createProxy(name, listenPort, upstream) {
      const created = (await call('POST', '/proxies', { name, listen: `127.0.0.1:${listenPort}`, upstream, enabled: true })) as { listen: string };
      return Number(created.listen.slice(created.listen.lastIndexOf(':') + 1));
    },
    async addToxic(proxy, toxic) {
      await call('POST', `/proxies/${encodeURIComponent(proxy)}/toxics`, { stream: 'downstream', toxicity: 1, ...toxic });
    },
    async removeToxic(proxy, toxic) {
      await call('DELETE', `/proxies/${encodeURIComponent(proxy)}/toxics/${encodeURIComponent(toxic)}`);
    },
    async setEnabled(proxy, enabled) {
      await call('POST', `/proxies/${encodeURIComponent(proxy)}`, { enabled });
    },
    async reset() {
      await call('POST', '/reset');
    },
    async stop() {
      process.removeListener('exit', onExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

