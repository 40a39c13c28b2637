/**
 * What the commands that run a component on its own (`ingress`, `dispatcher`, `controller`)
 * share: their common flags, Kafka checked once, the contract source, and an orderly stop.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { z } from 'zod';
import { bootstrapServersSchema, commonEnv } from '../core/config.js';
import { HttpContractSource } from '../core/contract/http-source.js';
import { watchContractFile, type ContractSource } from '../core/contract/source.js';
import { isBrokerError } from '../core/errors.js';
import type { EventLogClusters } from '../core/event-log/clusters.js';
import type { EventLog } from '../core/event-log/port.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { KafkaSecurity } from '../core/event-log/kafka/security.js';
import { kafkaClientErrors, type Registry } from '../core/metrics.js';
import type { DataPlaneRole } from '../controller/data-plane-reports.js';
import { CliError, type CliIo } from './cli.js';
import { clustersOf, KAFKA_AUTH_FLAG, kafkaAuthRootOf, kafkaClientOf, kafkaSecurityOf } from './kafka-auth.js';
import type { KafkaClientKind } from '../core/event-log/kafka/client-kind.js';
import { LOG_FORMAT_FLAG, parseCommandLine, stringFlag, type FlagSpec, type FlagValues } from './options.js';

export interface DataPlaneOptions {
  readonly contract: { readonly url: string; readonly from: string } | { readonly file: string; readonly from: string };
  readonly kafka: readonly string[];
  readonly kafkaFrom: string;
  readonly host: string;
  /** Set by withKafkaSecurity; PLAINTEXT when absent. */
  readonly kafkaSecurity?: KafkaSecurity;
  /** Where the token for the controller's admin API comes from (--contract-url only). */
  readonly token?: { readonly file: string } | { readonly value: string } | undefined;
  /** Set by withKafkaSecurity: where the credentials of resources on clusters of their own are. */
  readonly kafkaAuthRoot?: string;
  /** Set by withKafkaSecurity: --kafka-client / KAFKA_CLIENT; undefined: the default. */
  readonly kafkaClient?: KafkaClientKind | undefined;
}

/** The pod's ServiceAccount token, which the kubelet keeps fresh. */
export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** The usage lines of the flags every data-plane command takes besides the contract's and Kafka's. */
export const TOKEN_FILE_USAGE = `      --token-file <path>    the token sent to the controller (read before each request; default
                             $KAFKA_BROKER_ADMIN_TOKEN, else in a pod its ServiceAccount token)
`;

/** The options with the Kafka credentials of --kafka-auth-dir or the environment (kafka-auth.ts). */
export async function withKafkaSecurity(options: DataPlaneOptions, values: FlagValues, io: CliIo): Promise<DataPlaneOptions> {
  const root = kafkaAuthRootOf(io, stringFlag(values, 'kafka-auth-root'));
  const kafkaClient = kafkaClientOf(io.env, stringFlag(values, 'kafka-client'));
  return { ...options, kafkaSecurity: await kafkaSecurityOf(io, stringFlag(values, 'kafka-auth-dir')), ...(root === undefined ? {} : { kafkaAuthRoot: root }), kafkaClient };
}

const DATA_PLANE_FLAGS = {
  'contract-url': { type: 'string' },
  'contract-file': { type: 'string' },
  'token-file': { type: 'string' },
  kafka: { type: 'string' },
  ...KAFKA_AUTH_FLAG,
  host: { type: 'string' },
  ...LOG_FORMAT_FLAG,
} as const satisfies FlagSpec;

/** Parses a data-plane command's flags (the common ones and `extra`); undefined means --help. */
export function parseDataPlaneFlags(argv: readonly string[], extra: FlagSpec, command: string): FlagValues | undefined {
  const { values } = parseCommandLine(argv, { ...DATA_PLANE_FLAGS, ...extra }, command);
  return values['help'] === true ? undefined : values;
}

export function dataPlaneOptions(values: FlagValues, io: CliIo, command: string): DataPlaneOptions {
  const url = stringFlag(values, 'contract-url');
  const file = stringFlag(values, 'contract-file');
  if ((url === undefined) === (file === undefined)) {
    throw new CliError(`give exactly one of --contract-url <controller admin url>/contract or --contract-file <path> (see kafka-broker ${command} --help)`);
  }
  let contract: DataPlaneOptions['contract'];
  if (url !== undefined) {
    if (!z.string().url().safeParse(url).success || !/^https?:/.test(url)) throw new CliError(`--contract-url must be an http(s) URL, got "${url}"`);
    contract = { url, from: url };
  } else contract = { file: file!, from: file! };
  const kafka = kafkaFrom(values, io);
  // Separate processes share events only through Kafka: the in-memory log is for `start`.
  if (kafka === undefined) throw new CliError(`Kafka is required: give --kafka host:port or set KAFKA_BOOTSTRAP_SERVERS (the in-memory log works only with \`kafka-broker start\`)`);
  const host = z.string().trim().min(1).parse(stringFlag(values, 'host') ?? '0.0.0.0');
  const tokenFile = stringFlag(values, 'token-file');
  const tokenEnv = io.env['KAFKA_BROKER_ADMIN_TOKEN']?.trim();
  const token = tokenFile !== undefined ? { file: tokenFile }
    : tokenEnv ? { value: tokenEnv }
    : io.env['KUBERNETES_SERVICE_HOST'] && existsSync(SERVICE_ACCOUNT_TOKEN) ? { file: SERVICE_ACCOUNT_TOKEN }
    : undefined;
  return { contract, kafka: kafka.brokers, kafkaFrom: kafka.from, host, token };
}

/** `--kafka`, else $KAFKA_BOOTSTRAP_SERVERS, checked; undefined when neither is given. */
export function kafkaFrom(values: FlagValues, io: CliIo): { brokers: string[]; from: string } | undefined {
  const flag = stringFlag(values, 'kafka');
  const text = flag ?? commonEnv(io.env).kafkaBootstrapServers;
  if (text === undefined) return undefined;
  const from = flag !== undefined ? '--kafka' : 'KAFKA_BOOTSTRAP_SERVERS';
  const parsed = bootstrapServersSchema.safeParse(text);
  if (!parsed.success) throw new CliError(`${from} must be host:port[,host:port...], got "${text}"`);
  return { brokers: parsed.data, from };
}

/**
 * Kafka, checked once with a quiet client so that "not there" is one line; so is a refused
 * password or certificate (KAFKA_AUTH_FAILED / KAFKA_TLS_FAILED), with the reason.
 */
export async function openKafka(brokers: readonly string[], from: string, clientId: string, logger: Logger, security?: KafkaSecurity, hint = '', metrics?: Registry, client?: KafkaClientKind): Promise<EventLog> {
  const { KafkaEventLog } = await import('../core/event-log/kafka/adapter.js');
  const probe = new KafkaEventLog({ brokers: [...brokers], clientId: `${clientId}-probe`, logger: silentLogger(), security });
  const problem = await probe.connectionProblem(10_000);
  await probe.close().catch(() => undefined);
  if (problem !== undefined && problem.code !== 'LOG_UNAVAILABLE') throw new CliError(`Kafka at ${brokers.join(',')} (from ${from}) refused us: ${problem.message}`);
  if (problem !== undefined) throw new CliError(`cannot reach Kafka at ${brokers.join(',')} (from ${from})${hint}`);
  const errors = metrics === undefined ? undefined : kafkaClientErrors(metrics);
  return new KafkaEventLog({ brokers: [...brokers], clientId, logger, security, client, ...(errors === undefined ? {} : { onClientError: (operation: string) => errors.labels(operation).inc() }) });
}

/** How this process names itself to the controller: the pod's name (the host name) and its pid. */
/** How a data-plane process reads its token for the controller's admin API, if it has one. */
export function tokenOf(options: DataPlaneOptions): (() => string | Promise<string>) | undefined {
  const from = options.token;
  if (from === undefined) return undefined;
  return 'value' in from ? () => from.value : async () => (await readFile(from.file, 'utf8')).trim();
}

export const processIdentity = (): string => `${hostname()}/${process.pid}`;

/** The contract source of a data-plane process: the controller over HTTP, or a file. */
export async function openContracts(options: DataPlaneOptions, logger: Logger, role?: DataPlaneRole): Promise<{ contracts: ContractSource; close: () => Promise<void> }> {
  if ('url' in options.contract) {
    const reportAs = role === undefined ? undefined : { process: processIdentity(), role };
    const token = tokenOf(options);
    const source = new HttpContractSource({ url: options.contract.url, logger, ...(token === undefined ? {} : { token }), ...(reportAs === undefined ? {} : { reportAs }) }).start();
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
  role: DataPlaneRole,
  start: (log: EventLog, contracts: ContractSource, clusters: EventLogClusters) => Promise<() => Promise<void>>,
  metrics?: Registry,
): Promise<() => Promise<void>> {
  const log = await openKafka(options.kafka, options.kafkaFrom, clientId, logger, options.kafkaSecurity, '', metrics, options.kafkaClient);
  const clusters = await clustersOf(log, options.kafkaAuthRoot, clientId, logger);
  const { contracts, close } = await openContracts(options, logger, role);
  let stop: () => Promise<void>;
  try {
    stop = await start(log, contracts, clusters);
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

/**
 * Resolves on SIGINT/SIGTERM with the signal, after saying so (`what` is added to the line);
 * a second signal exits at once.
 */
export function untilSignal(io: CliIo, logger: Logger, what = ''): Promise<NodeJS.Signals> {
  // Listening starts now, not when the caller awaits: a signal during start-up is a clean stop too.
  return new Promise<NodeJS.Signals>((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      logger.info({ signal }, 'shutting down');
      io.stderr.write(`kafka-broker: ${signal}: shutting down${what}\n`);
      const forced = (): void => {
        io.stderr.write('kafka-broker: forced exit\n');
        process.exit(1);
      };
      process.once('SIGINT', forced);
      process.once('SIGTERM', forced);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
