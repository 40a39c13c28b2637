/**
 * The entry of the ingress worker thread (bin/ingress-thread-start.ts starts it): the same worker
 * as a node:cluster process runs (bin/ingress-worker.ts), given its settings by the parent, which
 * read and checked them once, and talking to it over the thread's MessagePort.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../core/logger.js';
import { dropKafkajsTimerWarnings } from './node-warnings.js';
import { runIngressWorker, type IngressThreadData, type ParentLink } from './ingress-worker.js';
import type { ToWorker } from './ingress-workers.js';

dropKafkajsTimerWarnings();
const port = parentPort;
if (port === null) throw new Error('bin/ingress-thread.ts runs only as a worker thread');
const data = workerData as IngressThreadData;

const link: ParentLink = {
  send: (message) => port.postMessage(message),
  listen: (onMessage, gone) => {
    port.on('message', (message: ToWorker) => onMessage(message));
    port.on('close', gone);
  },
  close: () => port.close(),
};

// Process metrics (CPU, RSS) are the whole process's: the parent's registry has them once.
await runIngressWorker({ ...data, processMetrics: false, logger: createLogger(data.log) }, link);
