/**
 * `kafka-broker dispatcher (--contract-url <url> | --contract-file <path>) [--kafka <servers>] [--health-port 8081]`
 *
 * The dispatcher as its own process, for a cluster deployment (deploy/): one consumer group per
 * egress of the contract, delivering to subscribers. It serves only health endpoints
 * (`/healthz`, `/readyz`: ready once a contract is applied and Kafka answers) on --health-port.
 *
 *   Kafka ──consume──▶ dispatcher ──POST──▶ subscribers
 *                        ▲ GET /contract?after=<g> (long-poll)
 *                      controller admin API
 *
 * SIGTERM: stop fetching, let deliveries in flight finish (DISPATCHER_SHUTDOWN_DEADLINE_MS),
 * commit, leave the groups.
 */
import { dispatcherConfigFromEnv } from '../../dispatcher/config.js';
import { startDispatcher } from '../../dispatcher/main.js';
import { createHttpServer, listen, registerHealth } from '../../core/http-server.js';
import { startTracing, tracingSettingsFromEnv } from '../../core/tracing.js';
import { createMetricsRegistry, registerMetricsRoute } from '../../core/metrics.js';
import { CliError, type CliIo } from '../cli.js';
import { FaultReporter, faultsUrlOf } from '../../dispatcher/fault-reporter.js';
import { ControllerTokenSource, oidcTokensUrlOf } from '../../dispatcher/oidc-tokens.js';
import { dataPlaneOptions, processIdentity, parseDataPlaneFlags, startDataPlane, TOKEN_FILE_USAGE, tokenOf, untilSignal, withKafkaSecurity } from '../data-plane.js';
import { KAFKA_AUTH_USAGE } from '../kafka-auth.js';
import { loggerFrom, parsePort } from '../options.js';

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
      --log-format <format>  json or pretty (default: pretty at a terminal, else json)
  -h, --help                 show this help

Environment: KAFKA_BOOTSTRAP_SERVERS, LOG_LEVEL (default info), LOG_FORMAT, DISPATCHER_* (see dispatcher/config.ts);
traces: OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER(_ARG)
(off unless set; docs/tracing.md).
`;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const values = parseDataPlaneFlags(argv, { 'health-port': { type: 'string' } }, 'dispatcher');
  if (values === undefined) {
    io.stdout.write(USAGE);
    return 0;
  }
  const common = await withKafkaSecurity(dataPlaneOptions(values, io, 'dispatcher'), values, io);
  const healthPort = parsePort('--health-port', values['health-port'], 8081);
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
    const traces = await startTracing(traceSettings);
    // Held events and skipped records go to the controller, for the triggers' status and Events.
    let reporter: FaultReporter | undefined;
    // In Kubernetes mode the controller issues the OIDC tokens deliveries present.
    const tokens = 'url' in common.contract ? new ControllerTokenSource({ url: oidcTokensUrlOf(common.contract.url), adminToken: tokenOf(common) }) : undefined;
    const dispatcher = await startDispatcher({ config, log, clusters, contracts, logger, tracing: traces.tracing, metrics, tokens, onFaults: () => reporter?.changed() });
    if ('url' in common.contract) {
      reporter = new FaultReporter({ url: faultsUrlOf(common.contract.url), process: processIdentity(), faults: () => dispatcher.faults(), logger, token: tokenOf(common) });
    }
    io.stderr.write(`kafka-broker dispatcher: health on ${url}, contract from ${common.contract.from}\n`);
    return async () => {
      await dispatcher.close();
      await reporter?.close();
      await health.close();
      await traces.shutdown();
    };
  }, metrics);
  await untilSignal(io, logger);
  await running();
  return 0;
}
