/**
 * `kafka-broker ingress (--contract-url <url> | --contract-file <path>) [--kafka <servers>] [--port 8080]`
 *
 * The broker ingress as its own process, for a cluster deployment (deploy/): it reads the
 * contract the controller serves (or a contract file), and appends the events POSTed to
 * `/<namespace>/<broker>` to Kafka.
 *
 *   producers ──POST──▶ ingress (:port) ──append──▶ Kafka
 *                         ▲ GET /contract?after=<g> (long-poll)
 *                       controller admin API
 *
 * Ready (`GET /readyz`) once a contract is loaded and Kafka answers. SIGTERM: stop accepting,
 * finish the requests in flight, close.
 */
import { startIngress } from '../../broker-ingress/main.js';
import { startTracing, tracingSettingsFromEnv } from '../../core/tracing.js';
import { createMetricsRegistry } from '../../core/metrics.js';
import type { CliIo } from '../cli.js';
import { dataPlaneOptions, parseDataPlaneFlags, startDataPlane, TOKEN_FILE_USAGE, untilSignal, withKafkaSecurity } from '../data-plane.js';
import { INGRESS_SECURITY_FLAGS, INGRESS_SECURITY_USAGE, ingressSecurityOf } from '../ingress-security.js';
import { KAFKA_AUTH_USAGE } from '../kafka-auth.js';
import { loggerFrom, parsePort } from '../options.js';
import { loadSettings, START_SETTINGS } from '../settings.js';

const USAGE = `Usage: kafka-broker ingress (--contract-url <url> | --contract-file <path>) [options]

Runs the broker ingress on its own (a cluster deployment): POST /<namespace>/<broker>;
GET /metrics (Prometheus) on the same port.

Options:
      --contract-url <url>   the controller's contract, e.g. http://kafka-broker-controller:9090/contract
      --contract-file <path> a contract file instead (watched for changes)
${TOKEN_FILE_USAGE}      --kafka <servers>      Kafka bootstrap servers host:port[,...]; default $KAFKA_BOOTSTRAP_SERVERS
${KAFKA_AUTH_USAGE}  -p, --port <port>          port to listen on (default 8080)
      --host <host>          address to listen on (default 0.0.0.0)
${INGRESS_SECURITY_USAGE}      --log-format <format>  json or pretty (default: pretty at a terminal, else json)
  -h, --help                 show this help

Environment: KAFKA_BOOTSTRAP_SERVERS, LOG_LEVEL (default info), LOG_FORMAT, and the INGRESS_* bounds
(body size, buffered bytes, timeouts, connections; kafka-broker start --help lists them with defaults).
Traces: OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER(_ARG)
(off unless set; docs/tracing.md).
`;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const values = parseDataPlaneFlags(argv, { port: { type: 'string', short: 'p' }, ...INGRESS_SECURITY_FLAGS }, 'ingress');
  if (values === undefined) {
    io.stdout.write(USAGE);
    return 0;
  }
  const common = await withKafkaSecurity(dataPlaneOptions(values, io, 'ingress'), values, io);
  const port = parsePort('--port', values['port'], 8080);
  const traceSettings = tracingSettingsFromEnv(io.env, 'kafka-broker-ingress');
  const security = ingressSecurityOf(values);
  const logger = loggerFrom(io, values);
  const metrics = createMetricsRegistry();
  const running = await startDataPlane(common, logger, 'kafka-broker-ingress', 'ingress', async (log, contracts, clusters) => {
    const traces = await startTracing(traceSettings);
    const ingress = await startIngress({ config: loadSettings(START_SETTINGS.ingress, io.env, { host: common.host, port, ...security }), log, clusters, contracts, logger, tracing: traces.tracing, metrics });
    const https = ingress.httpsUrl !== undefined && ingress.httpsUrl !== ingress.url ? ` and ${ingress.httpsUrl}` : '';
    io.stderr.write(`kafka-broker ingress: listening on ${ingress.url}${https}, contract from ${common.contract.from}\n`);
    return async () => {
      await ingress.close();
      await traces.shutdown();
    };
  }, metrics);
  await untilSignal(io, logger);
  await running();
  return 0;
}
