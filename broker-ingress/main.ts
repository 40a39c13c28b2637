import type { ContractSource } from '../core/contract/source.js';
import { EventLogClusters } from '../core/event-log/clusters.js';
import type { EventLog } from '../core/event-log/port.js';
import { createHttpServer, listen, registerHealth } from '../core/http-server.js';
import type { Logger } from '../core/logger.js';
import { Appender } from './append.js';
import type { IngressConfig } from './config.js';
import { IngressTable } from './ingress-table.js';
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
  /**
   * Logs of the clusters resources name (`Resource.cluster`), around `log`; the ingress closes
   * those no resource uses any more, and all of them when it stops. Default: `log` only.
   */
  readonly clusters?: EventLogClusters;
  readonly contracts: ContractSource;
  readonly logger: Logger;
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
  const clusters = deps.clusters ?? new EventLogClusters(log);
  const unsubscribe = contracts.subscribe((contract) => {
    if (table.generation !== undefined && contract.generation <= table.generation) return;
    const changes = table.apply(contract);
    if (clusters.size > 0) void clusters.retain(contract.resources.map((r) => r.cluster));
    // The controller logs one line per contract change; this detail is for debugging.
    logger.debug({ generation: contract.generation, served: table.size, ...changes }, 'ingress table updated');
  });

  const app = createHttpServer({ bodyLimitBytes: config.bodyLimitBytes, logger });
  registerHealth(app, {
    notReadyReason: async () => {
      if (!table.loaded) return 'no contract loaded yet';
      const reachable = await pingWithin(log, PING_TIMEOUT_MS);
      return reachable ? undefined : 'the event log is not reachable';
    },
  });
  registerIngressRoutes(app, { table, appender: new Appender(clusters, config.maxInFlightEvents), config, logger });

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
        await clusters.close();
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
