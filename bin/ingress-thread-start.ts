/**
 * The one ingress worker of `kafka-broker start` on Kafka as a worker thread of the broker's
 * process (bin/ingress-workers.ts has the picture and the worker processes used for several).
 */
import { Worker as Thread } from 'node:worker_threads';
import { AggregatorRegistry } from 'prom-client';
import type { Logger } from '../core/logger.js';
import type { IngressThreadData } from './ingress-worker.js';
import { MetricsAsks, STOP_TIMEOUT_MS, WorkerStartError, type FromWorker, type IngressWorkers, type MetricJson, type ToWorker, type WorkerReports } from './ingress-workers.js';

/**
 * Starts the ingress in a worker thread of this process and resolves once it listens; rejects
 * with its start-up failure. Its reports carry this process's pid (the ingress is in it).
 */
export async function startIngressThread(data: IngressThreadData, logger: Logger, reports?: WorkerReports): Promise<IngressWorkers> {
  const thread = startThread(data);
  const pid = process.pid;
  let stopping = false;
  let exited = false;
  let fail: (reason: string) => void = () => undefined;
  const failed = new Promise<string>((resolve) => {
    fail = resolve;
  });
  const metricsAsks = new MetricsAsks();
  const gone = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
  const listening = new Promise<{ url: string; httpsUrl: string | undefined }>((resolve, reject) => {
    let error: Error | undefined;
    thread.on('message', (message: FromWorker) => {
      if (message.type === 'listening') {
        reports?.started(pid);
        resolve({ url: message.url, httpsUrl: message.httpsUrl });
      } else if (message.type === 'applied') reports?.applied(pid, message.generation);
      else if (message.type === 'failed') reject(new WorkerStartError(message.message, message.errno));
      else if (message.type === 'metrics') metricsAsks.answer(message.id, message.metrics);
    });
    // An exception nothing caught ends the thread: it is why the broker stops.
    thread.on('error', (thrown: Error) => {
      error = thrown;
    });
    thread.on('exit', (code) => {
      exited = true;
      reports?.exited(pid);
      const how = error === undefined ? `exited with code ${code}` : `failed: ${error.message.split('\n')[0]}`;
      reject(new WorkerStartError(`the ingress thread ${how} while starting`, undefined));
      if (!stopping) fail(`the ingress thread ${how}`);
    });
  });
  const send = (message: ToWorker): void => {
    if (!exited) thread.postMessage(message);
  };
  const close = async (): Promise<void> => {
    stopping = true;
    if (exited) return;
    send({ type: 'stop' });
    const timer = setTimeout(() => {
      logger.warn('the ingress thread did not stop in time: terminated');
      void thread.terminate();
    }, STOP_TIMEOUT_MS);
    await gone;
    clearTimeout(timer);
  };
  let urls: { url: string; httpsUrl: string | undefined };
  try {
    urls = await listening;
  } catch (error) {
    await close();
    throw error;
  }
  logger.debug({ threadId: thread.threadId }, 'ingress thread listening');
  return {
    url: urls.url,
    httpsUrl: urls.httpsUrl,
    pids: [pid],
    failed,
    publish: (contract) => send({ type: 'contract', json: JSON.stringify(contract) }),
    metricsText: async (own) => {
      const theirs = exited ? [] : [await metricsAsks.ask(send)];
      return AggregatorRegistry.aggregate([(await own.getMetricsAsJSON()) as MetricJson[], ...theirs]).metrics();
    },
    close,
  };
}

/**
 * The thread runs bin/ingress-thread: compiled JavaScript beside this file in a package (dist/bin/),
 * TypeScript in a checkout run through tsx, which a worker thread does not inherit, so it
 * registers tsx itself before importing its entry.
 */
function startThread(data: IngressThreadData): Thread {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Thread(new URL('./ingress-thread.js', self), { workerData: data });
  const entry = new URL('./ingress-thread.ts', self).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  return new Thread(bootstrap, { eval: true, workerData: data });
}
