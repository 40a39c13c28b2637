/**
 * `kafka-broker dispatcher (--contract-url <url> | --contract-file <path>) [--kafka <servers>] [--health-port 8081] [--admin-port <port>]`
 *
 * The dispatcher as its own process, for a cluster deployment (deploy/): one consumer group per
 * egress of the contract, delivering to subscribers. It serves health endpoints (`/healthz`,
 * `/readyz`: ready once a contract is applied and Kafka answers) on --health-port, and with
 * --admin-port an admin API behind the admin guard (core/admin-auth): rewind and skip of its
 * triggers, their record, tail and the live view (/tail), and /lag, as `start` serves them.
 *
 *   Kafka ──consume──▶ dispatcher ──POST──▶ subscribers
 *                        ▲ GET /contract?after=<g> (long-poll)
 *                      controller admin API
 *
 * SIGTERM: stop fetching, let deliveries in flight finish (DISPATCHER_SHUTDOWN_DEADLINE_MS),
 * commit, leave the groups.
 */
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { exposureProblem, registerAdminGuard, staticTokenAuth, type AdminAuth } from '../../core/admin-auth/index.js';
import { registerLagRoute } from '../../controller/lag-route.js';
import { dispatcherConfigFromEnv } from '../../dispatcher/config.js';
import { registerRewindRoutes } from '../../dispatcher/rewind/routes.js';
import { registerTailRoutes } from '../../dispatcher/tail/routes.js';
import { readTokenFile, TOKEN_ENV } from '../admin-token.js';
import { startDispatcher, type RunningDispatcher } from '../../dispatcher/main.js';
import { createHttpServer, listen, registerHealth } from '../../core/http-server.js';
import { startTracing, tracingSettingsFromEnv } from '../../core/tracing.js';
import { createMetricsRegistry, registerMetricsRoute } from '../../core/metrics.js';
import { CliError, type CliIo } from '../cli.js';
import { FaultReporter, faultsUrlOf } from '../../dispatcher/fault-reporter.js';
import { ControllerTokenSource, oidcTokensUrlOf } from '../../dispatcher/oidc-tokens.js';
import { dataPlaneOptions, processIdentity, parseDataPlaneFlags, startDataPlane, TOKEN_FILE_USAGE, tokenOf, untilSignal, withKafkaSecurity } from '../data-plane.js';
import { KAFKA_AUTH_USAGE } from '../kafka-auth.js';
import { loggerFrom, parsePort, stringFlag, type FlagValues } from '../options.js';

const USAGE = `Usage: kafka-broker dispatcher (--contract-url <url> | --contract-file <path>) [options]

Runs the dispatcher on its own (a cluster deployment): delivers each trigger's events.

Options:
      --contract-url <url>   the controller's contract, e.g. http://kafka-broker-controller:9090/contract
      --contract-file <path> a contract file instead (watched for changes)
${TOKEN_FILE_USAGE}      --token-file <path>    the token sent to the controller (read before each request; default
                             $KAFKA_BROKER_ADMIN_TOKEN, else in a pod its ServiceAccount token)
      --kafka <servers>      Kafka bootstrap servers host:port[,...]; default $KAFKA_BOOTSTRAP_SERVERS
${KAFKA_AUTH_USAGE}      --health-port <port>   port of /healthz, /readyz and /metrics (Prometheus) (default 8081)
      --host <host>          address to listen on (default 0.0.0.0)
      --admin-port <port>    serve an admin API on this port: POST /triggers/<ns>/<name>/rewind|skip,
                             GET /triggers/<ns>/<name>/rewinds, /tail (live view), /tail/<ns>/<broker>,
                             /lag (off unless given)
      --admin-host <host>    its address (default 127.0.0.1)
      --admin-token-file <file>
                             the admin API's bearer token (default $KAFKA_BROKER_ADMIN_TOKEN)
      --no-admin-auth        no token on the admin API (refused unless it listens on loopback)
      --log-format <format>  json or pretty (default: pretty at a terminal, else json)
  -h, --help                 show this help

Environment: KAFKA_BOOTSTRAP_SERVERS, LOG_LEVEL (default info), LOG_FORMAT, DISPATCHER_* (see dispatcher/config.ts);
traces: OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER(_ARG)
(off unless set; docs/tracing.md).
`;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const values = parseDataPlaneFlags(argv, {
    'health-port': { type: 'string' },
    'admin-port': { type: 'string' },
    'admin-host': { type: 'string' },
    'admin-token-file': { type: 'string' },
    'no-admin-auth': { type: 'boolean' },
  }, 'dispatcher');
  if (values === undefined) {
    io.stdout.write(USAGE);
    return 0;
  }
  const common = await withKafkaSecurity(dataPlaneOptions(values, io, 'dispatcher'), values, io);
  const healthPort = parsePort('--health-port', values['health-port'], 8081);
  const admin = await adminOptions(values, io.env);
  const config = dispatcherConfigFromEnv(io.env);
  const traceSettings = tracingSettingsFromEnv(io.env, 'kafka-broker-dispatcher');
  const logger = loggerFrom(io, values);
  const metrics = createMetricsRegistry();
  const running = await startDataPlane(common, logger, 'kafka-broker-dispatcher', 'dispatcher', async (log, contracts, clusters) => {
    const health = createHttpServer({ bodyLimitBytes: 1024, logger });
    registerMetricsRoute(health, metrics);
    registerHealth(health, {
      notReadyReason: async () => {
        if (contracts.current() === undefined) return 'no contract loaded yet';
        return (await log.ping()) ? undefined : 'Kafka is not reachable';
      },
    });
    let url: string;
    try {
      url = (await listen(health, common.host, healthPort)).url;
    } catch (error) {
      await health.close();
      throw new CliError(`health endpoints: ${(error as Error).message}; choose another port with --health-port`);
    }
    // The admin API binds before the dispatcher starts, so a taken port fails fast; its routes
    // answer "not running yet" until then.
    const late: { dispatcher?: RunningDispatcher } = {};
    let adminServer: ReturnType<typeof createHttpServer> | undefined;
    let adminUrl = '';
    if (admin !== undefined) {
      adminServer = createHttpServer({ bodyLimitBytes: 64 * 1024, logger });
      registerAdminGuard(adminServer, { auth: admin.auth, hostNames: [hostname(), ...(isIP(admin.host) === 0 ? [admin.host] : [])] });
      registerHealth(adminServer, { notReadyReason: async () => (late.dispatcher === undefined ? 'the dispatcher is starting' : undefined) });
      registerRewindRoutes(adminServer, () => late.dispatcher?.rewinds);
      registerTailRoutes(adminServer, { log, contracts, logger });
      registerLagRoute(adminServer, async () => (await late.dispatcher?.lag()) ?? []);
      try {
        adminUrl = (await listen(adminServer, admin.host, admin.port)).url;
      } catch (error) {
        await adminServer.close();
        await health.close();
        throw new CliError(`admin API: ${(error as Error).message}; choose another port with --admin-port`);
      }
    }
    const traces = await startTracing(traceSettings);
    // Held events, skipped records and the outcomes of rewinds go to the controller, for the triggers' status and Events.
    let reporter: FaultReporter | undefined;
    // In Kubernetes mode the controller issues the OIDC tokens deliveries present.
    const tokens = 'url' in common.contract ? new ControllerTokenSource({ url: oidcTokensUrlOf(common.contract.url), adminToken: tokenOf(common) }) : undefined;
    const running = await startDispatcher({ config, log, clusters, contracts, logger, tracing: traces.tracing, metrics, tokens, onFaults: () => reporter?.changed() });
    late.dispatcher = running;
    if ('url' in common.contract) {
      reporter = new FaultReporter({ url: faultsUrlOf(common.contract.url), process: processIdentity(), faults: () => running.faults(), rewinds: () => running.rewindOutcomes(), logger, token: tokenOf(common) });
    }
    io.stderr.write(`kafka-broker dispatcher: health on ${url}${admin === undefined ? '' : `, admin ${adminUrl}`}, contract from ${common.contract.from}\n`);
    return async () => {
      if (adminServer !== undefined) {
        const closing = adminServer.close();
        // A browser or client may hold a connection that never sent a request; Node would wait out its headers timeout.
        adminServer.server.closeAllConnections();
        await closing;
      }
      await running.close();
      await reporter?.close();
      await health.close();
      await traces.shutdown();
    };
  }, metrics);
  await untilSignal(io, logger);
  await running();
  return 0;
}

/** The admin API's port, address and authentication; undefined without --admin-port. */
async function adminOptions(values: FlagValues, env: CliIo['env']): Promise<{ port: number; host: string; auth: AdminAuth | undefined } | undefined> {
  const given = ['admin-host', 'admin-token-file', 'no-admin-auth'].filter((flag) => values[flag] !== undefined);
  if (values['admin-port'] === undefined) {
    if (given.length > 0) throw new CliError(`--${given[0]} needs --admin-port`);
    return undefined;
  }
  const port = parsePort('--admin-port', values['admin-port'], 0);
  const host = (stringFlag(values, 'admin-host') ?? '127.0.0.1').trim();
  if (host === '') throw new CliError('--admin-host must not be empty');
  const file = stringFlag(values, 'admin-token-file');
  if (values['no-admin-auth'] === true) {
    if (file !== undefined) throw new CliError('--no-admin-auth and --admin-token-file cannot be used together');
    const problem = exposureProblem(host, false);
    if (problem !== undefined) throw new CliError(`${problem} (drop --no-admin-auth)`);
    return { port, host, auth: undefined };
  }
  // The same secret the dispatcher sends to the controller, unless a file of its own is given.
  const token = file !== undefined ? await readTokenFile(file, '--admin-token-file') : env[TOKEN_ENV]?.trim();
  if (token === undefined || token === '') throw new CliError(`the admin API needs a token: give --admin-token-file <file> or set ${TOKEN_ENV} (or --no-admin-auth on 127.0.0.1)`);
  if (token.length < 16) throw new CliError(`${TOKEN_ENV} must be at least 16 characters`);
  return { port, host, auth: staticTokenAuth(token) };
}
