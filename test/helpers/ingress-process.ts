import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Starts test/helpers/ingress-child.ts (an ingress on the in-memory log) as a process of its own,
 * so that a test can read its memory and see whether it stays up. Stopped through `t.after`.
 */

type After = { after(fn: () => unknown): void };

export interface IngressProcess {
  readonly url: string;
  readonly brokerPath: string;
  readonly sinkPath: string;
  readonly child: ChildProcess;
  /** Resident memory in bytes (VmRSS). */
  rss(): number;
  /** What it wrote on stderr (its warnings and errors). */
  stderr(): string;
  alive(): boolean;
}

const CHILD = fileURLToPath(new URL('./ingress-child.ts', import.meta.url));

export async function startIngressProcess(t: After, config: Record<string, unknown> = {}): Promise<IngressProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the ingress process did not start within 30 s: ${stderr}`)), 30_000);
    const check = (): void => {
      const end = stdout.indexOf('\n');
      if (end < 0) return;
      clearTimeout(timer);
      resolve(stdout.slice(0, end));
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the ingress process exited with ${code} before listening: ${stderr}`));
    });
  });
  const started = JSON.parse(line) as { url: string; brokerPath: string; sinkPath: string };
  return {
    ...started,
    child,
    rss: () => rssOf(child.pid!),
    stderr: () => stderr,
    alive: () => child.exitCode === null && child.signalCode === null,
  };
}

/** A process's resident memory in bytes, from /proc/<pid>/status. */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (match === null) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}
