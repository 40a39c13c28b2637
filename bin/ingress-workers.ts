/**
 * `kafka-broker start` on Kafka, split over threads or processes (issue 17): the ingress runs in a
 * worker thread (one worker, the default: bin/ingress-thread-start.ts) or in worker processes of
 * node:cluster (several, started here), the controller, the dispatcher and the admin API in this
 * thread, so that accepting events and delivering them use separate cores. A thread shares this
 * process's memory for Node itself, its libuv and the code it does not load (~40 MB less RSS than
 * a process of its own, issue 17); Node 20 cannot bind one port in several threads (no
 * reusePort), so several workers are processes that share the port (this process hands out
 * connections in turn).
 *
 *   this thread (controller, dispatcher, admin API) ──contract, stop, metrics?──▶ ingress worker(s)
 *                                                  ◀──listening | failed, metrics──
 *   (a MessagePort to the worker thread; IPC to worker processes)
 *
 * A worker thread is given the settings this process read (bin/ingress-thread.ts); a worker process
 * runs `start` with the same flags and environment, so it reads settings and credentials exactly as
 * this process does. Either writes to this process's stdout and stderr, so the logs of every part
 * are one stream. The contract is sent only once the dispatcher runs:
 * until then a worker's /readyz says "no contract loaded yet", so the broker is ready only when
 * every part is. A worker that dies stops the whole broker (`failed`); a worker whose parent is
 * gone stops itself (the IPC channel closes), so no half of a broker is ever left running.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';
import type { Contract } from '../core/contract/types.js';
import type { Logger } from '../core/logger.js';

/** What a worker sends. */
export type FromWorker =
  | { readonly type: 'listening'; readonly url: string; readonly httpsUrl?: string | undefined }
  | { readonly type: 'failed'; readonly message: string; readonly errno?: string | undefined }
  /** The worker's ingress serves this contract generation now. */
  | { readonly type: 'applied'; readonly generation: number }
  | { readonly type: 'metrics'; readonly id: number; readonly metrics: MetricJson[] };

/** What a worker is sent. */
export type ToWorker =
  | { readonly type: 'contract'; readonly json: string }
  | { readonly type: 'metrics?'; readonly id: number }
  | { readonly type: 'stop' };

export type MetricJson = MetricObjectWithValues<MetricValue<string>>;

/** Longest wait for a worker's metrics: /metrics answers with what came, not never. */
export const METRICS_TIMEOUT_MS = 2000;
/** A worker that does not stop within this long after `stop` is killed. */
export const STOP_TIMEOUT_MS = 30_000;

export class WorkerStartError extends Error {
  constructor(message: string, readonly errno: string | undefined) {
    super(message);
  }
}

export interface IngressWorkers {
  readonly url: string;
  readonly httpsUrl: string | undefined;
  readonly pids: readonly number[];
  /** Settles (never rejects) with why the broker must stop, when a worker dies unasked. */
  readonly failed: Promise<string>;
  publish(contract: Contract): void;
  /** This process's metrics and every worker's, as one registry's text (counters summed). */
  metricsText(own: Registry): Promise<string>;
  close(): Promise<void>;
}

/** Who hears which contract generation each worker serves (the controller's data-plane reports). */
export interface WorkerReports {
  /** A worker listens; it serves no contract yet. */
  started(pid: number): void;
  applied(pid: number, generation: number): void;
  exited(pid: number): void;
}

/**
 * Forks `count` ingress workers running `start <argv>` and resolves once all listen; rejects with
 * the first one's start-up failure (after stopping the others).
 */
export async function startIngressWorkers(count: number, argv: readonly string[], logger: Logger, reports?: WorkerReports): Promise<IngressWorkers> {
  // One worker accepts its own connections; several take turns through this process.
  cluster.schedulingPolicy = count === 1 ? cluster.SCHED_NONE : cluster.SCHED_RR;
  cluster.setupPrimary({ exec: process.argv[1], args: ['start', ...argv], silent: false });
  const workers: Worker[] = [];
  let stopping = false;
  let fail: (reason: string) => void = () => undefined;
  const failed = new Promise<string>((resolve) => {
    fail = resolve;
  });
  const metricsAsks = new MetricsAsks();

  const listening = Array.from({ length: count }, () => {
    // node:cluster marks the child (NODE_UNIQUE_ID): `start` there runs bin/ingress-worker.ts.
    const worker = cluster.fork();
    workers.push(worker);
    return new Promise<{ url: string; httpsUrl: string | undefined }>((resolve, reject) => {
      worker.on('message', (message: FromWorker) => {
        if (message.type === 'listening') {
          reports?.started(worker.process.pid!);
          resolve({ url: message.url, httpsUrl: message.httpsUrl });
        } else if (message.type === 'applied') reports?.applied(worker.process.pid!, message.generation);
        else if (message.type === 'failed') reject(new WorkerStartError(message.message, message.errno));
        else if (message.type === 'metrics') metricsAsks.answer(message.id, message.metrics);
      });
      worker.on('exit', (code, signal) => {
        reports?.exited(worker.process.pid!);
        const how = signal === null ? `exited with code ${code}` : `was killed by ${signal}`;
        reject(new WorkerStartError(`the ingress worker (pid ${worker.process.pid}) ${how} while starting`, undefined));
        if (!stopping) fail(`the ingress worker (pid ${worker.process.pid}) ${how}`);
      });
    });
  });

  const close = async (): Promise<void> => {
    stopping = true;
    await Promise.all(workers.map((worker) => stopWorker(worker, logger)));
  };

  let urls: { url: string; httpsUrl: string | undefined }[];
  try {
    urls = await Promise.all(listening);
  } catch (error) {
    await close();
    throw error;
  }
  logger.debug({ workers: workers.map((w) => w.process.pid) }, 'ingress workers listening');
  const send = (worker: Worker, message: ToWorker): void => {
    if (worker.isConnected()) worker.send(message);
  };
  return {
    url: urls[0]!.url,
    httpsUrl: urls[0]!.httpsUrl,
    pids: workers.map((w) => w.process.pid!),
    failed,
    publish: (contract) => {
      const json = JSON.stringify(contract);
      for (const worker of workers) send(worker, { type: 'contract', json });
    },
    metricsText: async (own) => {
      const asked = workers.filter((w) => w.isConnected()).map((worker) => metricsAsks.ask((message) => send(worker, message)));
      const all = [(await own.getMetricsAsJSON()) as MetricJson[], ...(await Promise.all(asked))];
      return AggregatorRegistry.aggregate(all).metrics();
    },
    close,
  };
}

async function stopWorker(worker: Worker, logger: Logger): Promise<void> {
  if (worker.isDead()) return;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  if (worker.isConnected()) worker.send({ type: 'stop' } satisfies ToWorker);
  else worker.process.kill('SIGTERM');
  const timer = setTimeout(() => {
    logger.warn({ pid: worker.process.pid }, 'the ingress worker did not stop in time: killed');
    worker.process.kill('SIGKILL');
  }, STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/** A worker's metrics asked for over its channel; an answer not there in METRICS_TIMEOUT_MS counts as none. */
export class MetricsAsks {
  private readonly pending = new Map<number, (metrics: MetricJson[]) => void>();
  private nextId = 0;

  ask(send: (message: ToWorker) => void): Promise<MetricJson[]> {
    return new Promise((resolve) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve([]);
      }, METRICS_TIMEOUT_MS);
      this.pending.set(id, (metrics) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(metrics);
      });
      send({ type: 'metrics?', id });
    });
  }

  answer(id: number, metrics: MetricJson[]): void {
    this.pending.get(id)?.(metrics);
  }
}
