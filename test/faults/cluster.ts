import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { onFreePorts } from '../helpers/ports.js';

/**
 * The broker's data plane as separate processes, as in a cluster: one `kafka-broker controller
 * --manifests`, and `kafka-broker ingress` and `kafka-broker dispatcher` processes reading the
 * contract from it over HTTP. Each slot keeps its port across restarts, so a restarted process
 * is the same "pod" to its peers; every process's stderr goes to `<logDir>/<slot>.log`.
 *
 *   manifests/ ──▶ controller ◀──GET /contract── ingress-1..n, dispatcher-1..m
 *   producers ──POST──▶ ingress-i ──▶ Kafka (through the proxy) ──▶ dispatcher-j ──▶ subscribers
 */
const CLI = path.join(fileURLToPath(new URL('../../', import.meta.url)), 'bin', 'kafka-broker.js');
const START_TIMEOUT_MS = 60_000;
const RSS_SAMPLE_MS = 500;

export interface ClusterOptions {
  /** Bootstrap servers as the broker's processes must use them (the proxy in front of Kafka). */
  readonly kafka: string;
  readonly manifests: string;
  readonly logDir: string;
  readonly ingresses: number;
  readonly dispatchers: number;
  /** Extra environment of every process (DISPATCHER_*, LOG_LEVEL...). */
  readonly env?: Readonly<Record<string, string>>;
}

interface Slot {
  readonly name: string;
  readonly role: 'controller' | 'ingress' | 'dispatcher';
  readonly port: number;
  child: ChildProcess | undefined;
  /** The child we are stopping on purpose: its exit is no crash. */
  stopping: ChildProcess | undefined;
}

export class Cluster {
  readonly adminUrl: string;
  private readonly slots = new Map<string, Slot>();
  private readonly peak = new Map<string, number>();
  private readonly logs = new Map<string, WriteStream>();
  private sampler: NodeJS.Timeout | undefined;
  private removeExitHook: () => void = () => {};
  /** Unexpected exits (not ours): a scenario reports them. */
  readonly crashes: string[] = [];

  private constructor(private readonly options: ClusterOptions, ports: { controller: number; ingresses: number[]; dispatchers: number[] }) {
    this.adminUrl = `http://127.0.0.1:${ports.controller}`;
    this.slots.set('controller', { name: 'controller', role: 'controller', port: ports.controller, child: undefined, stopping: undefined });
    ports.ingresses.forEach((port, i) => this.slots.set(`ingress-${i + 1}`, { name: `ingress-${i + 1}`, role: 'ingress', port, child: undefined, stopping: undefined }));
    ports.dispatchers.forEach((port, i) => this.slots.set(`dispatcher-${i + 1}`, { name: `dispatcher-${i + 1}`, role: 'dispatcher', port, child: undefined, stopping: undefined }));
  }

  /** Picks the ports and starts every process: the controller first, then the data plane. */
  static async start(options: ClusterOptions): Promise<Cluster> {
    // The controller's and the ingresses' ports are fixed (the data plane and the producers are
    // given them); the whole cluster starts again on others if one was taken before it listened.
    // A dispatcher's health port is read by nobody: 0, so that its restarts race for no port.
    return onFreePorts(1 + options.ingresses, ([controller, ...ingresses]) =>
      Cluster.startOn(options, { controller: controller!, ingresses, dispatchers: Array.from({ length: options.dispatchers }, () => 0) }));
  }

  private static async startOn(options: ClusterOptions, ports: { controller: number; ingresses: number[]; dispatchers: number[] }): Promise<Cluster> {
    const cluster = new Cluster(options, ports);
    // A harness that dies (an uncaught error, Ctrl-C) must not leave the broker's processes behind.
    const orphans = (): void => {
      for (const slot of cluster.slots.values()) if (cluster.running(slot.name)) slot.child!.kill('SIGKILL');
    };
    process.once('exit', orphans);
    cluster.removeExitHook = () => process.removeListener('exit', orphans);
    cluster.sampler = setInterval(() => cluster.sampleRss(), RSS_SAMPLE_MS);
    try {
      await cluster.startSlot('controller');
      await Promise.all([...cluster.slots.values()].filter((s) => s.role !== 'controller').map((s) => cluster.startSlot(s.name)));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  get ingressUrls(): string[] {
    return [...this.slots.values()].filter((s) => s.role === 'ingress').map((s) => `http://127.0.0.1:${s.port}`);
  }

  names(role: Slot['role']): string[] {
    return [...this.slots.values()].filter((s) => s.role === role).map((s) => s.name);
  }

  running(name: string): boolean {
    const child = this.slot(name).child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** Starts the process of a slot and resolves once it printed its start-up line. */
  async startSlot(name: string): Promise<void> {
    const slot = this.slot(name);
    if (this.running(name)) return;
    const contract = ['--contract-url', `${this.adminUrl}/contract`, '--kafka', this.options.kafka, '--host', '127.0.0.1'];
    const args =
      slot.role === 'controller'
        ? ['controller', '--manifests', this.options.manifests, '--admin-port', String(slot.port), '--host', '127.0.0.1', '--kafka', this.options.kafka, '--ingress-url', this.ingressUrls[0] ?? 'http://127.0.0.1:8080']
        : slot.role === 'ingress'
          ? ['ingress', ...contract, '--port', String(slot.port)]
          : ['dispatcher', ...contract, '--health-port', String(slot.port)];
    const ready = slot.role === 'controller' ? /kafka-broker controller: admin/ : slot.role === 'ingress' ? /kafka-broker ingress: listening/ : /kafka-broker dispatcher: health/;
    let log = this.logs.get(name);
    if (log === undefined) {
      log = createWriteStream(path.join(this.options.logDir, `${name}.log`), { flags: 'a' });
      this.logs.set(name, log);
    }
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, LOG_LEVEL: 'warn', ...this.options.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    slot.child = child;
    let text = '';
    const out = log;
    out.write(`--- ${new Date().toISOString()} start pid ${child.pid}\n`);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start within ${START_TIMEOUT_MS / 1000} s: ${text.slice(-2000)}`)), START_TIMEOUT_MS);
      child.stderr!.on('data', (chunk: Buffer) => {
        out.write(chunk);
        if (text.length < 100_000) text += chunk.toString();
        if (ready.test(text)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        out.write(`--- ${new Date().toISOString()} exit ${signal ?? code}\n`);
        if (slot.stopping !== child) this.crashes.push(`${name} exited (${signal ?? code})`);
        reject(new Error(`${name} exited (${signal ?? code}) before it was up: ${text.slice(-2000)}`));
      });
    });
  }

  /** SIGKILL: no shutdown at all, as when a node dies or the OOM killer strikes. */
  async kill(name: string): Promise<void> {
    await this.stopSlot(name, 'SIGKILL');
  }

  /** SIGTERM: a graceful shutdown (scale-down, rolling update). */
  async terminate(name: string): Promise<void> {
    await this.stopSlot(name, 'SIGTERM');
  }

  /** Peak resident memory per role (the largest of its processes), in bytes. */
  peakRss(): Map<string, number> {
    this.sampleRss();
    const byRole = new Map<string, number>();
    for (const [name, bytes] of this.peak) {
      const role = this.slot(name).role;
      byRole.set(role, Math.max(byRole.get(role) ?? 0, bytes));
    }
    return byRole;
  }

  async stop(): Promise<void> {
    if (this.sampler !== undefined) clearInterval(this.sampler);
    // The data plane first (the dispatchers commit and leave their groups), the controller last.
    await Promise.all([...this.slots.values()].filter((s) => s.role !== 'controller').map((s) => this.stopSlot(s.name, 'SIGTERM')));
    await this.stopSlot('controller', 'SIGTERM');
    for (const log of this.logs.values()) log.end();
    this.removeExitHook();
  }

  private async stopSlot(name: string, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    const slot = this.slot(name);
    const child = slot.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    this.sampleRss();
    slot.stopping = child;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    await exited;
    clearTimeout(timer);
  }

  private sampleRss(): void {
    for (const slot of this.slots.values()) {
      const pid = slot.child?.pid;
      if (pid === undefined || !this.running(slot.name)) continue;
      try {
        // VmHWM: the process's peak resident set so far, so samples miss no spike.
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
        if (match) this.peak.set(slot.name, Math.max(this.peak.get(slot.name) ?? 0, Number(match[1]) * 1024));
      } catch {
        // exited between the check and the read
      }
    }
  }

  private slot(name: string): Slot {
    const slot = this.slots.get(name);
    if (slot === undefined) throw new Error(`no process slot ${name}`);
    return slot;
  }
}

/** Resolves once `check` is true, or rejects after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(100);
  }
}
