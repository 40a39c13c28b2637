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
 *
 * This file also holds what the data-plane commands share (flags, Kafka, the contract source).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { startIngress } from '../../broker-ingress/main.js';
import { ingressConfigSchema } from '../../broker-ingress/config.js';
import { bootstrapServersSchema, commonEnv, loadConfig, logLevelSchema, portSchema } from '../../core/config.js';
import { HttpContractSource } from '../../core/contract/http-source.js';
import { watchContractFile, type ContractSource } from '../../core/contract/source.js';
import { isBrokerError } from '../../core/errors.js';
import type { EventLog } from '../../core/event-log/port.js';
import { createLogger, logLevels, silentLogger, type Logger } from '../../core/logger.js';
import { CliError, type CliIo } from '../cli.js';

const USAGE = `Usage: kafka-broker ingress (--contract-url <url> | --contract-file <path>) [options]

Runs the broker ingress on its own (a cluster deployment): POST /<namespace>/<broker>.

Options:
      --contract-url <url>   the controller's contract, e.g. http://kafka-broker-controller:9090/contract
      --contract-file <path> a contract file instead (watched for changes)
      --token-file <path>    the token sent to the controller (read before each request; default
                             $KAFKA_BROKER_ADMIN_TOKEN, else in a pod its ServiceAccount token)
      --kafka <servers>      Kafka bootstrap servers host:port[,...]; default $KAFKA_BOOTSTRAP_SERVERS
  -p, --port <port>          port to listen on (default 8080)
      --host <host>          address to listen on (default 0.0.0.0)
  -h, --help                 show this help

Environment: KAFKA_BOOTSTRAP_SERVERS, LOG_LEVEL (default info).
`;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const values = parseFlags(argv, { port: { type: 'string', short: 'p' } }, 'ingress');
  if (values === undefined) {
    io.stdout.write(USAGE);
    return 0;
  }
  const common = commonOptions(values, io, 'ingress');
  const port = parsePort('--port', values['port'], 8080);
  const logger = loggerFrom(io);
  const running = await startDataPlane(common, logger, 'kafka-broker-ingress', async (log, contracts) => {
    const ingress = await startIngress({ config: loadConfig(ingressConfigSchema, { host: common.host, port }), log, contracts, logger });
    io.stderr.write(`kafka-broker ingress: listening on ${ingress.url}, contract from ${common.contract.from}\n`);
    return () => ingress.close();
  });
  await untilSignal(io, logger);
  await running();
  return 0;
}

// ---- shared by the data-plane commands (ingress, dispatcher) ----

type FlagSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

export interface DataPlaneOptions {
  readonly contract: { readonly url: string; readonly from: string } | { readonly file: string; readonly from: string };
  readonly kafka: readonly string[];
  readonly kafkaFrom: string;
  readonly host: string;
  /** Where the token for the controller's admin API comes from (--contract-url only). */
  readonly token: { readonly file: string } | { readonly value: string } | undefined;
}

/** The pod's ServiceAccount token, which the kubelet keeps fresh. */
export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** Parses flags (with the common ones); undefined means --help. */
export function parseFlags(argv: string[], extra: FlagSpec, command: string): Record<string, string | boolean | undefined> | undefined {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'contract-url': { type: 'string' },
        'contract-file': { type: 'string' },
        'token-file': { type: 'string' },
        kafka: { type: 'string' },
        host: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        ...extra,
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new CliError(`${(error as Error).message} (see kafka-broker ${command} --help)`);
  }
  return values['help'] === true ? undefined : values;
}

export function commonOptions(values: Record<string, string | boolean | undefined>, io: CliIo, command: string): DataPlaneOptions {
  const url = values['contract-url'];
  const file = values['contract-file'];
  if ((url === undefined) === (file === undefined)) {
    throw new CliError(`give exactly one of --contract-url <controller admin url>/contract or --contract-file <path> (see kafka-broker ${command} --help)`);
  }
  let contract: DataPlaneOptions['contract'];
  if (typeof url === 'string') {
    if (!z.string().url().safeParse(url).success || !/^https?:/.test(url)) throw new CliError(`--contract-url must be an http(s) URL, got "${url}"`);
    contract = { url, from: url };
  } else contract = { file: String(file), from: String(file) };
  const kafkaText = typeof values['kafka'] === 'string' ? values['kafka'] : commonEnv(io.env).kafkaBootstrapServers;
  const kafkaFrom = typeof values['kafka'] === 'string' ? '--kafka' : 'KAFKA_BOOTSTRAP_SERVERS';
  // Separate processes share events only through Kafka: the in-memory log is for `start`.
  if (kafkaText === undefined) throw new CliError(`Kafka is required: give --kafka host:port or set KAFKA_BOOTSTRAP_SERVERS (the in-memory log works only with \`kafka-broker start\`)`);
  const parsed = bootstrapServersSchema.safeParse(kafkaText);
  if (!parsed.success) throw new CliError(`${kafkaFrom} must be host:port[,host:port...], got "${kafkaText}"`);
  const host = z.string().trim().min(1).parse(typeof values['host'] === 'string' ? values['host'] : '0.0.0.0');
  const tokenFile = typeof values['token-file'] === 'string' ? values['token-file'] : undefined;
  const tokenEnv = io.env['KAFKA_BROKER_ADMIN_TOKEN']?.trim();
  const token = tokenFile !== undefined ? { file: tokenFile }
    : tokenEnv ? { value: tokenEnv }
    : io.env['KUBERNETES_SERVICE_HOST'] && existsSync(SERVICE_ACCOUNT_TOKEN) ? { file: SERVICE_ACCOUNT_TOKEN }
    : undefined;
  return { contract, kafka: parsed.data, kafkaFrom, host, token };
}

export function parsePort(flag: string, value: string | boolean | undefined, fallback: number): number {
  const parsed = portSchema.safeParse(typeof value === 'string' ? value : fallback);
  if (!parsed.success) throw new CliError(`${flag} must be a port number (0-65535), got "${String(value)}"`);
  return parsed.data;
}

export function loggerFrom(io: CliIo): Logger {
  const level = logLevelSchema.safeParse(commonEnv(io.env).logLevel);
  if (!level.success) throw new CliError(`LOG_LEVEL must be one of ${logLevels.join(', ')}`);
  return createLogger({ level: level.data });
}

/** Kafka, checked once with a quiet client so that "not there" is one line. */
export async function openKafka(brokers: readonly string[], from: string, clientId: string, logger: Logger): Promise<EventLog> {
  const { KafkaEventLog } = await import('../../core/event-log/kafka/adapter.js');
  const probe = new KafkaEventLog({ brokers: [...brokers], clientId: `${clientId}-probe`, logger: silentLogger() });
  const reachable = await probe.ping();
  await probe.close().catch(() => undefined);
  if (!reachable) throw new CliError(`cannot reach Kafka at ${brokers.join(',')} (from ${from})`);
  return new KafkaEventLog({ brokers: [...brokers], clientId, logger });
}

/** The contract source of a data-plane process: the controller over HTTP, or a file. */
export async function openContracts(options: DataPlaneOptions, logger: Logger): Promise<{ contracts: ContractSource; close: () => Promise<void> }> {
  if ('url' in options.contract) {
    const from = options.token;
    const token = from === undefined ? undefined
      : 'value' in from ? () => from.value
      : async () => (await readFile(from.file, 'utf8')).trim();
    const source = new HttpContractSource({ url: options.contract.url, logger, ...(token === undefined ? {} : { token }) }).start();
    return { contracts: source, close: () => source.close() };
  }
  const source = await watchContractFile(options.contract.file, logger);
  return { contracts: source, close: async () => source.close() };
}

/**
 * Opens Kafka and the contract source, starts the component, and returns its shutdown: the
 * component first, then the contract source and Kafka.
 */
export async function startDataPlane(
  options: DataPlaneOptions,
  logger: Logger,
  clientId: string,
  start: (log: EventLog, contracts: ContractSource) => Promise<() => Promise<void>>,
): Promise<() => Promise<void>> {
  const log = await openKafka(options.kafka, options.kafkaFrom, clientId, logger);
  const { contracts, close } = await openContracts(options, logger);
  let stop: () => Promise<void>;
  try {
    stop = await start(log, contracts);
  } catch (error) {
    await close();
    await log.close();
    if (error instanceof CliError) throw error;
    throw new CliError(isBrokerError(error) ? error.message : `start-up failed: ${(error as Error).message}`);
  }
  return async () => {
    await stop().catch((error: unknown) => logger.warn({ err: error }, 'stopping failed'));
    await close();
    await log.close();
    logger.flush();
    // Everything is closed; a library timer must not keep the process alive.
    setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
  };
}

/** Resolves on SIGINT/SIGTERM; a second signal exits at once. */
export async function untilSignal(io: CliIo, logger: Logger): Promise<void> {
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const on = (s: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(s);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
  logger.info({ signal }, 'shutting down');
  io.stderr.write(`kafka-broker: ${signal}: shutting down\n`);
  const forced = (): void => {
    io.stderr.write('kafka-broker: forced exit\n');
    process.exit(1);
  };
  process.once('SIGINT', forced);
  process.once('SIGTERM', forced);
}
