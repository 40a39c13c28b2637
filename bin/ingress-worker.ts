/**
 * The ingress worker of a split `kafka-broker start` (bin/ingress-workers.ts has the picture): the
 * broker ingress on the shared port, appending to Kafka with a producer of its own, fed the
 * contract by its parent, over IPC (a worker process of node:cluster) or a MessagePort (the worker
 * thread of the default single worker). A worker process leaves signals to its parent (Ctrl-C
 * reaches the whole process group); either kind stops when the parent says `stop`, or when the
 * parent is gone.
 */
import process from 'node:process';
import { startIngress, type RunningIngress } from '../broker-ingress/main.js';
import type { IngressConfig } from '../broker-ingress/config.js';
import { parseContractJson } from '../core/contract/parse.js';
import { InProcessContractSource } from '../core/contract/source.js';
import { isBrokerError } from '../core/errors.js';
import type { EventLog } from '../core/event-log/port.js';
import type { KafkaClientKind } from '../core/event-log/kafka/client-kind.js';
import type { KafkaSecurity } from '../core/event-log/kafka/security.js';
import type { Logger, LoggerOptions } from '../core/logger.js';
import { createMetricsRegistry } from '../core/metrics.js';
import { startTracing, type RunningTracing, type TracingSettings } from '../core/tracing.js';
import { openKafka } from './data-plane.js';
import type { FromWorker, MetricJson, ToWorker } from './ingress-workers.js';
import { clustersOf } from './kafka-auth.js';
import { warmUp } from './warm-up.js';

export interface IngressWorkerSetup {
  readonly config: IngressConfig;
  readonly kafka: { readonly brokers: readonly string[]; readonly from: string; readonly security?: KafkaSecurity | undefined };
  /** The Kafka client library the parent chose (--kafka-client); absent: the default. */
  readonly client?: KafkaClientKind | undefined;
  readonly authRoot: string | undefined;
  readonly traceSettings: TracingSettings | undefined;
  readonly logger: Logger;
  /** Events of the start-up warm-up (bin/warm-up.ts); 0 or absent: none. */
  readonly warmUpEvents?: number;
  /** Process and Node metrics (prom-client's defaults); a thread leaves them to its process. Default true. */
  readonly processMetrics?: boolean;
}

/** What the parent gives a worker thread: the setup, and the logger's settings for a logger of its own. */
export type IngressThreadData = Omit<IngressWorkerSetup, 'logger'> & { readonly log: Pick<LoggerOptions, 'level' | 'format' | 'colorize'> };

/** How a worker and the process that started it talk. */
export interface ParentLink {
  send(message: FromWorker): void;
  /** `gone`: the parent is gone (even SIGKILLed) or the link closed. */
  listen(onMessage: (message: ToWorker) => void, gone: () => void): void;
  close(): void;
}

/** A worker process of node:cluster: IPC; signals are the parent's to act on. */
export function processLink(): ParentLink {
  let onMessage: ((message: ToWorker) => void) | undefined;
  return {
    send: (message) => {
      if (process.connected) process.send!(message);
    },
    listen: (handler, gone) => {
      const ignore = (): void => undefined;
      process.on('SIGINT', ignore);
      process.on('SIGTERM', ignore);
      onMessage = handler;
      process.on('message', handler);
      process.on('disconnect', gone);
    },
    close: () => {
      if (onMessage !== undefined) process.off('message', onMessage);
      if (process.connected) process.disconnect();
    },
  };
}

/** Runs until the parent says stop (or goes away); resolves with the exit code. */
export async function runIngressWorker(setup: IngressWorkerSetup, link: ParentLink = processLink()): Promise<number> {
  const tell = (message: FromWorker): void => link.send(message);
  const logger = setup.logger.child({ worker: process.pid });
  const metrics = createMetricsRegistry({ processMetrics: setup.processMetrics ?? true });
  const contracts = new InProcessContractSource();
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const onMessage = (message: ToWorker): void => {
    if (message.type === 'contract') {
      try {
        const contract = parseContractJson(message.json);
        contracts.publish(contract);
        // The ingress routes by it from now on: the controller may count this process as having it.
        tell({ type: 'applied', generation: contract.generation });
      } catch (error) {
        logger.error({ err: error }, 'the contract from the parent process is invalid; keeping the last one');
      }
    } else if (message.type === 'metrics?') {
      void metrics.getMetricsAsJSON().then((json) => tell({ type: 'metrics', id: message.id, metrics: json as MetricJson[] }));
    } else if (message.type === 'stop') stop();
  };
  // The parent is gone: this worker must not serve on alone.
  link.listen(onMessage, () => stop());

  let log: EventLog | undefined;
  let ingress: RunningIngress | undefined;
  let traces: RunningTracing | undefined;
  let code = 0;
  try {
    // Before listening: the parent waits for every worker to listen before it publishes the
    // contract, so no worker of a Ready broker is still cold (each answers /readyz for itself).
    await warmUp(setup.warmUpEvents ?? 0).then(
      (result) => logger.debug(result, 'warm-up done'),
      (error: unknown) => logger.warn({ err: error }, 'the start-up warm-up failed; starting without it'),
    );
    log = await openKafka(setup.kafka.brokers, setup.kafka.from, 'kafka-broker', logger, setup.kafka.security, '', metrics, setup.client);
    const clusters = await clustersOf(log, setup.authRoot, 'kafka-broker-ingress', logger);
    traces = await startTracing(setup.traceSettings);
    ingress = await startIngress({ config: setup.config, log, clusters, contracts, logger, tracing: traces.tracing, metrics });
    tell({ type: 'listening', url: ingress.url, httpsUrl: ingress.httpsUrl });
    await stopped;
  } catch (error) {
    const errno = isBrokerError(error) ? error.details?.['errno'] : undefined;
    tell({ type: 'failed', message: (error as Error).message, errno: typeof errno === 'string' ? errno : undefined });
    code = 1;
  }
  await ingress?.close().catch((error: unknown) => logger.warn({ err: error }, 'closing the ingress failed'));
  await traces?.shutdown().catch(() => undefined);
  await log?.close().catch(() => undefined);
  logger.flush();
  link.close();
  // Everything is closed; a library timer must not keep the worker alive.
  setTimeout(() => process.exit(code), 2000).unref();
  return code;
}
