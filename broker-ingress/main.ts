import type { ContractSource } from '../core/contract/source.js';
import { EventLogClusters } from '../core/event-log/clusters.js';
import type { EventLog } from '../core/event-log/port.js';
import type { Server as TlsServer } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { withTimeout } from '../core/async.js';
import { BrokerError } from '../core/errors.js';
import { createHttpServer, listen, pathOf, registerHealth, type Listening } from '../core/http-server.js';
import type { Logger } from '../core/logger.js';
import type { Tracing } from '../core/tracing.js';
import { contractApplied, registerMetricsRoute, type Registry } from '../core/metrics.js';
import { Appender } from './append.js';
import { ingressConfigProblem, type IngressConfig } from './config.js';
import { IngressTable } from './ingress-table.js';
import { takeIngressPosts } from './fast-post.js';
import { IngressMetrics } from './metrics.js';
import { IngressPosts } from './post.js';
import { registerIngressRoutes } from './routes.js';
import { TokenVerifier } from './sender-auth.js';
import { readTlsMaterial, watchTlsFiles, type TlsMaterial } from './tls.js';

/**
 * The broker ingress: one HTTP server for every broker, channel and sink in the contract.
 *
 *   producer ──POST /ns/name──▶ fast-post | routes ─▶ post: receive (decode, validate, TTL) ─▶ append ─▶ EventLog
 *                                  ▲                                                                    (topic)
 *   ContractSource ──generation──▶ ingress-table (path → topic, applied by diff)
 *
 * Event POSTs are served from Node's request handler (fast-post.ts), without fastify's per-request
 * work; what it leaves, and every other route, is fastify's (routes.ts); both run post.ts.
 *
 * With TLS configured the same routes are also served over HTTPS on their own port (the
 * certificate is reloaded when its files change), and plain HTTP can be turned off. With OIDC
 * configured, resources whose contract ingress has an audience take only authenticated senders.
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
  /** OpenTelemetry (core/tracing.ts); without it the W3C trace headers are only passed through. */
  readonly tracing?: Tracing | undefined;
  /** The process's metrics registry: counted, and served at `GET /metrics` on the ingress port. Absent: no metrics. */
  readonly metrics?: Registry | undefined;
  /** The clock tokens are checked against (tests move it); the system's by default. */
  readonly now?: () => Date;
  /**
   * Serve event POSTs straight from Node's request handler (broker-ingress/fast-post.ts); false:
   * all through fastify's routes. The answers are the same (tests compare); default true.
   */
  readonly fastPosts?: boolean;
}

export interface RunningIngress {
  /** The plain HTTP address, or the HTTPS one when plain HTTP is off. */
  readonly url: string;
  readonly port: number;
  /** The HTTPS address, when TLS is configured. */
  readonly httpsUrl?: string;
  readonly httpsPort?: number;
  close(): Promise<void>;
}

const PING_TIMEOUT_MS = 2000;

export async function startIngress(deps: IngressDeps): Promise<RunningIngress> {
  const { config, log, contracts } = deps;
  const logger = deps.logger.child({ component: 'broker-ingress' });
  const table = new IngressTable();
  const clusters = deps.clusters ?? new EventLogClusters(log);
  let prepared: Promise<void> = Promise.resolve();
  const unsubscribe = contracts.subscribe((contract) => {
    if (table.generation !== undefined && contract.generation <= table.generation) return;
    const changes = table.apply(contract);
    // Connect and learn partition counts now, not on the first events (issue 17); ready after.
    const topics = contract.resources.filter((r) => r.ingress !== null && r.cluster === undefined).flatMap((r) => r.topics.slice(0, 1));
    prepared = log.prepareAppends?.(topics) ?? Promise.resolve();
    if (deps.metrics !== undefined) contractApplied(deps.metrics, 'broker-ingress', contract.generation);
    if (clusters.size > 0) void clusters.retain(contract.resources.map((r) => r.cluster));
    // The controller logs one line per contract change; this detail is for debugging.
    logger.debug({ generation: contract.generation, served: table.size, ...changes }, 'ingress table updated');
  });

  const problem = ingressConfigProblem(config);
  if (problem !== undefined) throw new BrokerError('CONFIG_INVALID', problem);
  const tls = config.tls === undefined ? undefined : await readTlsMaterial(config.tls);
  const verifier = config.oidc === undefined ? undefined : await TokenVerifier.create(config.oidc, deps.now);
  const metrics = deps.metrics === undefined ? undefined : new IngressMetrics(deps.metrics, config.metricsMaxEventTypes);
  const appender = new Appender(clusters, config, metrics);
  const posts = new IngressPosts({ table, appender, config, logger, verifier, tracing: deps.tracing, metrics });
  const fastPosts = deps.fastPosts ?? true;

  const build = (https: TlsMaterial | undefined): FastifyInstance => {
    // Each listener (http, https) has its own bounds: each is one server's worth of clients.
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
      ...(https === undefined ? {} : { https }),
      // Bodies too large or unreadable are refused before the routes see them: counted here.
      onError: metrics === undefined ? undefined : (request, error) => {
        if (request.method === 'POST') posts.failed(pathOf(request.url), error, metrics.startedOf(request));
      },
      takeRequests: fastPosts ? (server) => takeIngressPosts(posts, server) : undefined,
    });
    registerHealth(app, {
      notReadyReason: async () => {
        if (!table.loaded) return 'no contract loaded yet';
        await withTimeout(prepared, PING_TIMEOUT_MS, undefined);
        const reachable = await pingWithin(log, PING_TIMEOUT_MS);
        return reachable ? undefined : 'the event log is not reachable';
      },
    });
    if (deps.metrics !== undefined) registerMetricsRoute(app, deps.metrics);
    registerIngressRoutes(app, posts);
    return app;
  };
  const apps: FastifyInstance[] = [];
  let stopWatching = (): void => undefined;
  const closeAll = async (): Promise<void> => {
    unsubscribe();
    stopWatching();
    await Promise.all(apps.map((app) => app.close()));
    await verifier?.close();
    await clusters.close();
  };

  let plain: Listening | undefined;
  let secure: Listening | undefined;
  try {
    if (config.plainHttp) {
      const app = build(undefined);
      apps.push(app);
      plain = await listen(app, config.host, config.port);
    }
    if (config.tls !== undefined && tls !== undefined) {
      const app = build(tls);
      apps.push(app);
      secure = await listen(app, config.host, config.tls.port, 'https');
      const server = app.server as unknown as TlsServer;
      stopWatching = watchTlsFiles(config.tls, (material) => server.setSecureContext({ cert: material.cert, key: material.key }), logger);
    }
  } catch (error) {
    await closeAll();
    throw error;
  }
  const primary = (plain ?? secure)!;
  // The CLI prints the address; the log line is for debugging.
  logger.debug({ url: primary.url, httpsUrl: secure?.url, host: config.host, log: log.kind, oidc: config.oidc?.issuer }, 'ingress listening');
  let closing: Promise<void> | undefined;
  return {
    url: primary.url,
    port: primary.port,
    ...(secure === undefined ? {} : { httpsUrl: secure.url, httpsPort: secure.port }),
    close: () => {
      closing ??= closeAll();
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
