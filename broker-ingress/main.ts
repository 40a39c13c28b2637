import type { ContractSource } from '../core/contract/source.js';
import type { EventLog } from '../core/event-log/port.js';
import { createHttpServer, listen, registerHealth } from '../core/http-server.js';
import type { Logger } from '../core/logger.js';
import type { Tracing } from '../core/tracing.js';
import { contractApplied, registerMetricsRoute, type Registry } from '../core/metrics.js';
import { Appender } from './append.js';
import type { IngressConfig } from './config.js';
import { IngressTable } from './ingress-table.js';
import { IngressMetrics } from './metrics.js';
import { registerIngressRoutes } from './routes.js';

/**
 * The broker ingress: one HTTP server for every broker, channel and sink in the contract.
 *
 *   producer ──POST /ns/name──▶ routes ─▶ receive (decode, validate, TTL) ─▶ append ─▶ EventLog
 *                                 ▲                                                    (topic)
 *   ContractSource ──generation──▶ ingress-table (path → topic, applied by diff)
 *
 * The event log and the contract source belong to the caller: `close()` stops serving and
 * waits for requests in flight, and closes neither.
 */

export interface IngressDeps {
  readonly config: IngressConfig;
  readonly log: EventLog;
  readonly contracts: ContractSource;
  readonly logger: Logger;
  /** OpenTelemetry (core/tracing.ts); without it the W3C trace headers are only passed through. */
  readonly tracing?: Tracing | undefined;
  /** The process's metrics registry: counted, and served at `GET /metrics` on the ingress port. Absent: no metrics. */
  readonly metrics?: Registry | undefined;
}

export interface RunningIngress {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const PING_TIMEOUT_MS = 2000;

export async function startIngress(deps: IngressDeps): Promise<RunningIngress> {
  const { config, log, contracts } = deps;
  const logger = deps.logger.child({ component: 'broker-ingress' });
  const table = new IngressTable();
  const unsubscribe = contracts.subscribe((contract) => {
    if (table.generation !== undefined && contract.generation <= table.generation) return;
    const changes = table.apply(contract);
    if (deps.metrics !== undefined) contractApplied(deps.metrics, 'broker-ingress', contract.generation);
    // The controller logs one line per contract change; this detail is for debugging.
    logger.debug({ generation: contract.generation, served: table.size, ...changes }, 'ingress table updated');
  });

  const app = createHttpServer({
    bodyLimitBytes: config.bodyLimitBytes,
    logger,
    limits: {
      maxBufferedBytes: config.maxBufferedBytes,
      requestTimeoutMs: config.requestTimeoutMs,
      headersTimeoutMs: config.headersTimeoutMs,
      keepAliveTimeoutMs: config.keepAliveTimeoutMs,
      maxConnections: config.maxConnections,
      retryAfterSeconds: config.retryAfterSeconds,
    },
  });
  registerHealth(app, {
    notReadyReason: async () => {
      if (!table.loaded) return 'no contract loaded yet';
      const reachable = await pingWithin(log, PING_TIMEOUT_MS);
      return reachable ? undefined : 'the event log is not reachable';
    },
  });
  const metrics = deps.metrics === undefined ? undefined : new IngressMetrics(deps.metrics, config.metricsMaxEventTypes);
  if (deps.metrics !== undefined) registerMetricsRoute(app, deps.metrics);
  metrics?.register(app, table);
  registerIngressRoutes(app, { table, appender: new Appender(log, config, metrics), config, logger, tracing: deps.tracing });

  let listening;
  try {
    listening = await listen(app, config.host, config.port);
  } catch (error) {
    unsubscribe();
    await app.close();
    throw error;
  }
  // The CLI prints the address; the log line is for debugging.
  logger.debug({ url: listening.url, host: config.host, port: listening.port, log: log.kind }, 'ingress listening');
  let closing: Promise<void> | undefined;
  return {
    url: listening.url,
    port: listening.port,
    close: () => {
      closing ??= (async () => {
        unsubscribe();
        await app.close();
      })();
      return closing;
    },
  };
}

async function pingWithin(log: EventLog, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([log.ping().catch(() => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
