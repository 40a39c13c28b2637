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
import { ingressConfigSchema } from '../../broker-ingress/config.js';
import { loadConfig } from '../../core/config.js';
import type { CliIo } from '../cli.js';
import { dataPlaneOptions, parseDataPlaneFlags, startDataPlane, untilSignal, withKafkaSecurity } from '../data-plane.js';
import { KAFKA_AUTH_USAGE } from '../kafka-auth.js';
import { loggerFrom, parsePort } from '../options.js';

const USAGE = `Usage: kafka-broker ingress (--contract-url <url> | --contract-file <path>) [options]

Runs the broker ingress on its own (a cluster deployment): POST /<namespace>/<broker>.

Options:
      --contract-url <url>   the controller's contract, e.g. http://kafka-broker-controller:9090/contract
      --contract-file <path> a contract file instead (watched for changes)
      --kafka <servers>      Kafka bootstrap servers host:port[,...]; default $KAFKA_BOOTSTRAP_SERVERS
${KAFKA_AUTH_USAGE}  -p, --port <port>          port to listen on (default 8080)
      --host <host>          address to listen on (default 0.0.0.0)
      --log-format <format>  json or pretty (default: pretty at a terminal, else json)
  -h, --help                 show this help

Environment: KAFKA_BOOTSTRAP_SERVERS, LOG_LEVEL (default info), LOG_FORMAT.
`;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const values = parseDataPlaneFlags(argv, { port: { type: 'string', short: 'p' } }, 'ingress');
  if (values === undefined) {
    io.stdout.write(USAGE);
    return 0;
  }
  const common = await withKafkaSecurity(dataPlaneOptions(values, io, 'ingress'), values, io);
  const port = parsePort('--port', values['port'], 8080);
  const logger = loggerFrom(io, values);
  const running = await startDataPlane(common, logger, 'kafka-broker-ingress', async (log, contracts, clusters) => {
    const ingress = await startIngress({ config: loadConfig(ingressConfigSchema, { host: common.host, port }), log, clusters, contracts, logger });
    io.stderr.write(`kafka-broker ingress: listening on ${ingress.url}, contract from ${common.contract.from}\n`);
    return () => ingress.close();
  });
  await untilSignal(io, logger);
  await running();
  return 0;
}
