import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { onFreePorts } from './ports.js';

type After = { after(fn: () => unknown): void };

export interface ExampleSubscriber {
  readonly port: number;
  readonly child: ChildProcess;
  /** What it printed on stdout so far: a line per event. */
  output(): string;
}

/**
 * examples/subscriber.mjs, started by `spawn` on a port given to it, once it says it is listening.
 * It takes a fixed port (the manifests name it), so it is started again on another port when the
 * one chosen was taken before it could listen. Stopped (SIGTERM) when the test ends.
 */
export async function startExampleSubscriber(t: After, spawn: (port: number) => ChildProcess, timeoutMs = 30_000): Promise<ExampleSubscriber> {
  return onFreePorts(1, async ([port]) => {
    const child = spawn(port!);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    };
    // A node process starting on a busy machine (Node 24 in CI) took more than 10 s once.
    const deadline = Date.now() + timeoutMs;
    while (!stdout.includes('subscriber listening')) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the subscriber exited (${child.exitCode ?? child.signalCode}): ${stderr.trim()}`);
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`the subscriber did not listen within ${timeoutMs} ms: ${stderr.trim()}`);
      }
      await sleep(20);
    }
    t.after(stop);
    return { port: port!, child, output: () => stdout };
  });
}
