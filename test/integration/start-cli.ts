import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { waitUntil } from '../helpers/wait.js';

/**
 * Helpers for the end-to-end tests of `kafka-broker start` / `get`: the CLI run as a user runs it
 * (a real `node bin/kafka-broker.js` process, real ports, real files), torn down through `t.after`.
 */

type After = { after(fn: () => unknown): void };

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = path.join(ROOT, 'bin', 'kafka-broker.js');

/**
 * The state folder of every `kafka-broker` these tests run (XDG_STATE_HOME): `start` creates its
 * admin token there and `get`/`dead-letters` read it, as they do in a user's home, without
 * touching the home of whoever runs the tests. One per test process.
 */
export const TEST_STATE_HOME = mkdtempSync(path.join(tmpdir(), 'kb-state-'));
process.once('exit', () => rmSync(TEST_STATE_HOME, { recursive: true, force: true }));

/** The admin token `start` created for these tests (after a broker started). */
export const adminToken = (): string => readFileSync(path.join(TEST_STATE_HOME, 'kafka-broker', 'admin-token'), 'utf8').trim();

/** The headers that authenticate to a test broker's admin API. */
export const adminHeaders = (): Record<string, string> => ({ authorization: `Bearer ${adminToken()}` });

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `kafka-broker <args>` to completion. */
export function runCli(args: readonly string[], env: Record<string, string | undefined> = {}, timeoutMs = 60_000): Promise<CliResult> {
  return runCommand(process.execPath, [CLI, ...args], { env, timeoutMs });
}

/** Runs a command to completion (no shell unless asked), collecting its output. */
export function runCommand(
  command: string,
  args: readonly string[],
  { env = {}, timeoutMs = 60_000, cwd = ROOT, shell = false }: { env?: Record<string, string | undefined>; timeoutMs?: number; cwd?: string; shell?: boolean } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { cwd, env: { ...process.env, XDG_STATE_HOME: TEST_STATE_HOME, WARM_UP_EVENTS: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'], shell });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface BrokerProcess {
  readonly ingressUrl: string;
  readonly adminUrl: string;
  readonly child: ChildProcess;
  stderr(): string;
  /** `kafka-broker get <args> --server <admin>`. */
  get(...args: string[]): Promise<CliResult>;
  /** GET on the admin API, parsed. */
  admin<T = unknown>(pathname: string): Promise<T>;
  /** Sends SIGTERM (or the signal given) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `kafka-broker start --manifests <dir>` on free ports (port 0) and waits for its start-up
 * line, which names the ingress and admin URLs.
 */
export async function startBroker(
  t: After,
  { manifests, env = {}, args = [], timeoutMs = 90_000 }: { manifests: string; env?: Record<string, string | undefined>; args?: readonly string[]; timeoutMs?: number },
): Promise<BrokerProcess> {
  // No start-up warm-up (seconds on a busy machine) unless a test asks: start-ready.test.ts does.
  const child = spawn(process.execPath, [CLI, 'start', '--manifests', manifests, '--port', '0', '--admin-port', '0', ...args], {
    cwd: ROOT,
    env: { ...process.env, XDG_STATE_HOME: TEST_STATE_HOME, LOG_LEVEL: 'info', WARM_UP_EVENTS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let stopped: Promise<number | null> | undefined;
  const stop = (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    })();
    return stopped;
  };
  t.after(() => stop());
  const startUp = waitUntil(() => /kafka-broker: ingress (\S+)\s+admin (\S+)/.exec(stderr), { timeoutMs, intervalMs: 50, message: 'the start-up line' });
  const early = exited.then((code) => {
    throw new Error(`kafka-broker start exited with ${code} before starting: ${stderr}`);
  });
  const line = await Promise.race([startUp, early]).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  early.catch(() => undefined);
  const [, ingressUrl, adminUrl] = line;
  return {
    ingressUrl: ingressUrl!,
    adminUrl: adminUrl!,
    child,
    stderr: () => stderr,
    get: (...getArgs) => runCli(['get', ...getArgs, '--server', adminUrl!]),
    admin: async <T>(pathname: string) => {
      const response = await fetch(`${adminUrl}${pathname}`, { headers: adminHeaders() });
      return (await response.json()) as T;
    },
    stop,
  };
}

/** A temporary manifests folder, removed after the test. */
export async function manifestsFolder(t: After): Promise<ManifestsFolder> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kb-e2e-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return new ManifestsFolder(dir);
}

export class ManifestsFolder {
  constructor(readonly dir: string) {}

  /** Writes objects as a multi-document YAML file (or raw text). */
  async write(name: string, content: readonly object[] | string): Promise<void> {
    const text = typeof content === 'string' ? content : content.map((o) => stringify(o)).join('---\n');
    // Write then rename, as editors do, so the watcher never reads half a file.
    const file = path.join(this.dir, name);
    await writeFile(`${file}.tmp-${process.pid}`, text);
    const { rename } = await import('node:fs/promises');
    await rename(`${file}.tmp-${process.pid}`, file);
  }

  async remove(name: string): Promise<void> {
    await unlink(path.join(this.dir, name));
  }
}

// ---- Knative objects

export const brokerManifest = (namespace: string, name: string, spec: object = {}): object => ({
  apiVersion: 'eventing.knative.dev/v1',
  kind: 'Broker',
  metadata: { name, namespace, annotations: { 'eventing.knative.dev/broker.class': 'Kafka' } },
  spec,
});

export const triggerManifest = (namespace: string, name: string, spec: Record<string, unknown>, annotations: Record<string, string> = {}): object => ({
  apiVersion: 'eventing.knative.dev/v1',
  kind: 'Trigger',
  metadata: { name, namespace, annotations },
  spec: { broker: 'default', ...spec },
});

export interface KnList {
  readonly apiVersion: string;
  readonly kind: string;
  readonly items: readonly {
    readonly kind: string;
    readonly metadata: { readonly name: string; readonly namespace: string };
    readonly status?: {
      readonly conditions?: readonly { type: string; status: string; reason?: string; message?: string }[];
      readonly address?: { url: string };
      readonly subscriberUri?: string;
    };
  }[];
}

export const readyOf = (item: KnList['items'][number] | undefined): { status: string; reason?: string; message?: string } | undefined =>
  item?.status?.conditions?.find((c) => c.type === 'Ready');
