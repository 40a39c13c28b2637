/**
 * The ingress benches' load client: 1 KiB binary-mode CloudEvent POSTs from an undici Pool of
 * CONCURRENCY connections (one request each), run in a child process of its own so that it has
 * the other core and its CPU is not counted as the ingress's. One child serves every round of a
 * run (its start-up paid once): each round warms up, then measures for a set time.
 *
 * Closed loop by default (each connection sends again once answered); with `rate` an open loop at
 * that many requests per second, so that two ingresses compared see the same arrivals.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';

export const CONCURRENCY = 64;
const EVENT_BYTES = 1024;
const CHILD_FLAG = '--ingress-load-client';

export interface LoadRequest {
  readonly url: string;
  readonly path: string;
  readonly warmupMs: number;
  readonly measureMs: number;
  /** Open-loop requests per second; 0 or absent: closed loop. */
  readonly rate?: number;
}

export interface LoadResult {
  /** Requests answered in the measured window. */
  readonly requests: number;
  /** Requests answered in all, warm-up included (CPU per event divides by this). */
  readonly total: number;
  readonly seconds: number;
  /** [status, count] of the answers in the measured window. */
  readonly statuses: readonly (readonly [number, number])[];
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** The measured window's answers as `202×1234 503×5`. */
export function statusCounts(result: LoadResult): string {
  return result.statuses.map(([status, count]) => `${status}×${count}`).join(' ');
}

/** Answers in the measured window whose status was not `expected`. */
export function answersOtherThan(result: LoadResult, expected: number): number {
  return result.statuses.reduce((sum, [status, count]) => (status === expected ? sum : sum + count), 0);
}

async function runLoad(request: LoadRequest): Promise<LoadResult> {
  const pool = new Pool(request.url, { connections: CONCURRENCY, pipelining: 1 });
  const body = Buffer.from(JSON.stringify({ payload: 'x'.repeat(EVENT_BYTES - 14) }));
  const rate = request.rate ?? 0;
  let counter = 0;
  const statuses = new Map<number, number>();
  const latencies: number[] = [];
  let measuring = false;
  let stop = false;
  let requests = 0;
  let total = 0;
  const send = async (): Promise<void> => {
    const started = performance.now();
    const response = await pool.request({
      method: 'POST',
      path: request.path,
      headers: { 'ce-specversion': '1.0', 'ce-id': String(counter++), 'ce-source': '/bench/producer', 'ce-type': 'dev.knative.bench', 'content-type': 'application/json' },
      body,
    });
    await response.body.dump();
    total++;
    if (measuring) {
      requests++;
      latencies.push(performance.now() - started);
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
    }
  };
  const connection = async (): Promise<void> => {
    while (!stop) await send();
  };
  // At a fixed rate how many requests share an event-loop turn (which changes the CPU per
  // request) does not depend on how fast the ingress answers.
  const paced: Promise<void>[] = [];
  let ticker: NodeJS.Timeout | undefined;
  if (rate > 0) {
    const started = performance.now();
    let sent = 0;
    ticker = setInterval(() => {
      const due = Math.floor(((performance.now() - started) / 1000) * rate);
      for (; sent < due; sent++) paced.push(send());
    }, 5);
  }
  const connections = rate > 0 ? [] : Array.from({ length: CONCURRENCY }, connection);
  await new Promise((resolve) => setTimeout(resolve, request.warmupMs));
  measuring = true;
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, request.measureMs));
  measuring = false;
  const seconds = (performance.now() - started) / 1000;
  stop = true;
  clearInterval(ticker);
  await Promise.all([...connections, ...paced]);
  await pool.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { requests, total, seconds, statuses: [...statuses], p50Ms: at(0.5), p99Ms: at(0.99) };
}

/** The load client's child process, one load request after another. */
export class LoadClient {
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private failed: Error | undefined;

  constructor() {
    this.child = fork(fileURLToPath(import.meta.url), [CHILD_FLAG], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => {
      if (code !== 0) this.failed = new Error(`load client exited with ${code}`);
      resolve();
    }));
  }

  run(request: LoadRequest): Promise<LoadResult> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      const onExit = (): void => reject(this.failed ?? new Error('load client exited'));
      this.child.once('exit', onExit);
      this.child.once('message', (result: LoadResult) => {
        this.child.off('exit', onExit);
        resolve(result);
      });
      this.child.send(request);
    });
  }

  async close(): Promise<void> {
    this.child.disconnect();
    await this.exited;
  }
}

if (process.argv.includes(CHILD_FLAG)) {
  // Until the parent disconnects.
  process.on('message', (message: LoadRequest) => {
    void runLoad(message).then((result) => process.send!(result));
  });
  process.once('disconnect', () => process.exit(0));
}
