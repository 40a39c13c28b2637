/**
 * `kafka-broker start --manifests <dir> [--port 8080] [--admin-port 9090] [--kafka host:port]`
 *
 * The controller, the ingress and the dispatcher in one process, sharing one event log and an
 * in-process contract:
 *
 *   manifests/ ──▶ controller ──contract──▶ ingress  (:port, POST /<ns>/<broker>)
 *                     │  topics, groups      dispatcher ──▶ subscribers
 *                     ▼
 *                 event log (memory, or Kafka with --kafka / KAFKA_BOOTSTRAP_SERVERS)
 *   admin (:admin-port): resources with status, for `kafka-broker get`; dead letters (the
 *                        KafkaSinks' contents) for `kafka-broker dead-letters` and the /dead-letters page
 *
 * Start-up binds both ports before touching the log's topics, so "port taken" or "folder
 * missing" fail fast as one line. SIGINT/SIGTERM: stop accepting, stop reconciling, let the
 * dispatcher drain, close.
 */
import { stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createAdminServer, registerResourceRoutes } from '../../controller/admin.js';
import { controllerConfigFrom } from '../../controller/config.js';
import { createController, type Controller } from '../../controller/main.js';
import { startIngress, type RunningIngress } from '../../broker-ingress/main.js';
import { ingressConfigSchema } from '../../broker-ingress/config.js';
import { dispatcherConfigFromEnv, type DispatcherConfig } from '../../dispatcher/config.js';
import { DeadLetterService, registerDeadLetterRoutes } from '../../dispatcher/dead-letters/index.js';
import { startDispatcher, type RunningDispatcher } from '../../dispatcher/main.js';
import { exposureProblem, staticTokenAuth, type AdminAuth } from '../../core/admin-auth/index.js';
import { bootstrapServersSchema, commonEnv, loadConfig, logLevelSchema, portSchema } from '../../core/config.js';
import { InProcessContractSource } from '../../core/contract/source.js';
import { isBrokerError } from '../../core/errors.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import type { EventLog } from '../../core/event-log/port.js';
import { listen } from '../../core/http-server.js';
import { createLogger, logLevels, silentLogger, type Logger } from '../../core/logger.js';
import { serverToken } from '../admin-token.js';
import { CliError, type CliIo } from '../cli.js';

const USAGE = `Usage: kafka-broker start --manifests <dir> [options]

Runs the controller, the broker ingress and the dispatcher in one process.

Options:
  -m, --manifests <dir>   folder of Knative manifests (*.yaml, *.yml, *.json), watched for changes
  -p, --port <port>       ingress port: POST /<namespace>/<broker> (default 8080)
      --admin-port <port> admin API port, read by \`kafka-broker get\` (default 9090)
      --host <host>       the ingress's address (default 127.0.0.1; 0.0.0.0 for every interface)
      --admin-host <host> the admin API's address (default 127.0.0.1)
      --admin-token-file <file>
                          the admin API's bearer token (default $KAFKA_BROKER_ADMIN_TOKEN, else
                          ~/.local/state/kafka-broker/admin-token, created on first use)
      --no-admin-auth     no token on the admin API (refused unless it listens on loopback)
      --kafka <servers>   Kafka bootstrap servers host:port[,host:port]; default $KAFKA_BOOTSTRAP_SERVERS,
                          else the in-memory event log (dev mode: events do not survive a restart)
  -h, --help              show this help

Environment: KAFKA_BOOTSTRAP_SERVERS, LOG_LEVEL (default info), CONTROLLER_TOPIC_PARTITIONS (10),
CONTROLLER_TOPIC_REPLICATION_FACTOR (1), DISPATCHER_* (see dispatcher/config.ts).
`;

interface StartOptions {
  readonly manifests: string;
  readonly port: number;
  readonly adminPort: number;
  readonly host: string;
  readonly adminHost: string;
  readonly adminTokenFile: string | undefined;
  readonly adminAuth: boolean;
  readonly kafka: { readonly brokers: string[]; readonly from: string } | undefined;
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  const options = parseOptions(argv, io);
  if (options === undefined) {
    io.stdout.write(USAGE);
    return 0;
  }
  await checkFolder(options.manifests);
  const problem = exposureProblem(options.adminHost, options.adminAuth);
  if (problem !== undefined) throw new CliError(`${problem} (drop --no-admin-auth)`);
  const token = options.adminAuth ? await serverToken(options.adminTokenFile, io.env) : undefined;
  const level = logLevelSchema.safeParse(commonEnv(io.env).logLevel);
  if (!level.success) throw new CliError(`LOG_LEVEL must be one of ${logLevels.join(', ')}`);
  const logger = createLogger({ level: level.data });

  // In memory nothing outlives the process, so waiting long for deliveries in progress only
  // delays Ctrl-C; on Kafka what is not done is redelivered after a restart, so drain fully.
  const dispatcherEnv = options.kafka === undefined && !io.env['DISPATCHER_SHUTDOWN_DEADLINE_MS'] ? { ...io.env, DISPATCHER_SHUTDOWN_DEADLINE_MS: '5000' } : io.env;
  const dispatcherConfig = dispatcherConfigFromEnv(dispatcherEnv);
  const running = await startAll(options, io, logger, dispatcherConfig, token === undefined ? undefined : staticTokenAuth(token.token));
  const mode = options.kafka === undefined
    ? 'in-memory event log (dev mode: events do not survive a restart)'
    : `Kafka at ${options.kafka.brokers.join(',')}`;
  const access = token === undefined ? 'no admin token (loopback only)' : `admin token in ${token.from}`;
  io.stderr.write(`kafka-broker: ingress ${running.ingressUrl}  admin ${running.adminUrl}  ${mode}; ${access}\n`);

  const signal = await waitForSignal();
  logger.info({ signal }, 'shutting down');
  io.stderr.write(`kafka-broker: ${signal}: shutting down (deliveries in progress get up to ${Math.round(dispatcherConfig.shutdownDeadlineMs / 1000)} s)\n`);
  const forced = (): void => {
    io.stderr.write('kafka-broker: forced exit\n');
    process.exit(1);
  };
  process.once('SIGINT', forced);
  process.once('SIGTERM', forced);
  await running.close();
  logger.flush();
  // Every server and consumer is closed; a library timer must not keep the process alive.
  setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
  return 0;
}

function parseOptions(argv: string[], io: CliIo): StartOptions | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        manifests: { type: 'string', short: 'm' },
        port: { type: 'string', short: 'p' },
        'admin-port': { type: 'string' },
        host: { type: 'string' },
        'admin-host': { type: 'string' },
        'admin-token-file': { type: 'string' },
        'no-admin-auth': { type: 'boolean' },
        kafka: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new CliError(`${(error as Error).message} (see kafka-broker start --help)`);
  }
  if (values.help) return undefined;
  if (values['no-admin-auth'] === true && values['admin-token-file'] !== undefined) throw new CliError('--no-admin-auth and --admin-token-file cannot be used together');
  if (values.manifests === undefined || values.manifests === '') throw new CliError('--manifests <dir> is required (see kafka-broker start --help)');
  const port = (flag: string, value: string | undefined, fallback: number): number => {
    const parsed = portSchema.safeParse(value ?? fallback);
    if (!parsed.success) throw new CliError(`${flag} must be a port number (0-65535), got "${value}"`);
    return parsed.data;
  };
  const kafkaText = values.kafka ?? commonEnv(io.env).kafkaBootstrapServers;
  let kafka: StartOptions['kafka'];
  if (kafkaText !== undefined) {
    const from = values.kafka !== undefined ? '--kafka' : 'KAFKA_BOOTSTRAP_SERVERS';
    const parsed = bootstrapServersSchema.safeParse(kafkaText);
    if (!parsed.success) throw new CliError(`${from} must be host:port[,host:port...], got "${kafkaText}"`);
    kafka = { brokers: parsed.data, from };
  }
  return {
    manifests: values.manifests,
    port: port('--port', values.port, 8080),
    adminPort: port('--admin-port', values['admin-port'], 9090),
    host: z.string().trim().min(1).parse(values.host ?? '127.0.0.1'),
    adminHost: z.string().trim().min(1).parse(values['admin-host'] ?? '127.0.0.1'),
    adminTokenFile: values['admin-token-file'],
    adminAuth: values['no-admin-auth'] !== true,
    kafka,
  };
}

async function checkFolder(dir: string): Promise<void> {
  let info;
  try {
    info = await stat(dir);
  } catch {
    throw new CliError(`manifests folder "${dir}" does not exist`);
  }
  if (!info.isDirectory()) throw new CliError(`--manifests must be a folder, and "${dir}" is a file`);
}

interface Running {
  readonly ingressUrl: string;
  readonly adminUrl: string;
  close(): Promise<void>;
}

async function startAll(options: StartOptions, io: CliIo, logger: Logger, dispatcherConfig: DispatcherConfig, auth: AdminAuth | undefined): Promise<Running> {
  // Closed in reverse order of start, also when start-up fails half way.
  const closers: { name: string; close: () => Promise<void> }[] = [];
  let firstPass = false;
  const closeAll = async (): Promise<void> => {
    for (const { name, close } of closers.reverse()) {
      await close().catch((error: unknown) => logger.warn({ err: error }, `closing the ${name} failed`));
    }
    closers.length = 0;
  };
  try {
    const log = await openLog(options, logger);
    closers.push({ name: 'event log', close: () => log.close() });
    const contracts = new InProcessContractSource();
    // Read before any port is bound (a bad setting fails fast); the ingress URL is known once it listens.
    const controllerConfig = controllerConfigFrom(
      { manifestsDir: path.resolve(options.manifests), ingressUrl: 'http://127.0.0.1', kafkaBootstrapServers: options.kafka?.brokers ?? [] },
      io.env,
    );

    // The admin API binds first (it logs nothing), so a taken port is the only line printed.
    const late: { controller?: Controller; ownUrls: string[] } = { ownUrls: [] };
    // Host names the admin API answers to besides localhost and IP literals (DNS-rebinding protection).
    const hostNames = [hostname(), ...(isIP(options.adminHost) === 0 ? [options.adminHost] : [])];
    const admin = createAdminServer({
      logger,
      notReadyReason: async () => (firstPass ? undefined : 'the manifests are not loaded yet'),
      access: { auth, hostNames },
    });
    registerResourceRoutes(admin, {
      objects: () => late.controller?.reconciler.objects() ?? [],
      problems: () => late.controller?.reconciler.problems() ?? [],
      contract: () => late.controller?.reconciler.contract(),
    });
    // Dead letters: reads the KafkaSinks of the contract in force; replays through the dispatcher's pipeline.
    const deadLetters = new DeadLetterService({
      log, contracts, config: dispatcherConfig, logger, replays: { replicationFactor: controllerConfig.topicReplicationFactor },
    });
    // A replay's `to` may not be this process's own ports (the admin API itself, or the ingress).
    registerDeadLetterRoutes(admin, deadLetters, { ownUrls: () => late.ownUrls });
    closers.push({ name: 'dead letters', close: () => deadLetters.close() });
    let adminUrl: string;
    try {
      adminUrl = (await listen(admin, options.adminHost, options.adminPort)).url;
    } catch (error) {
      await admin.close();
      throw portError(error, 'admin API', '--admin-port');
    }
    closers.push({ name: 'admin API', close: () => admin.close() });

    let ingress: RunningIngress;
    try {
      ingress = await startIngress({ config: loadConfig(ingressConfigSchema, { host: options.host, port: options.port }), log, contracts, logger });
    } catch (error) {
      throw portError(error, 'ingress', '--port');
    }
    closers.push({ name: 'ingress', close: () => ingress.close() });
    late.ownUrls = [adminUrl, ingress.url];

    const controller = createController({
      config: { ...controllerConfig, ingressUrl: ingress.url },
      log,
      publish: (contract) => contracts.publish(contract),
      logger,
    });
    late.controller = controller;
    closers.push({ name: 'controller', close: () => controller.close() });
    await controller.start();
    firstPass = true;

    const dispatcher: RunningDispatcher = await startDispatcher({ config: dispatcherConfig, log, contracts, logger });
    closers.push({ name: 'dispatcher', close: () => dispatcher.close() });

    // Shutdown order: the ingress stops accepting first, then the controller stops, then the
    // dispatcher drains what is in flight; the log closes last.
    const order = ['ingress', 'controller', 'dispatcher', 'admin API', 'event log'];
    closers.sort((a, b) => order.indexOf(b.name) - order.indexOf(a.name));
    return { ingressUrl: ingress.url, adminUrl, close: closeAll };
  } catch (error) {
    await closeAll();
    if (error instanceof CliError) throw error;
    throw new CliError(isBrokerError(error) ? error.message : `start-up failed: ${(error as Error).message}`);
  }
}

async function openLog(options: StartOptions, logger: Logger): Promise<EventLog> {
  if (options.kafka === undefined) return new MemoryEventLog();
  const { KafkaEventLog } = await import('../../core/event-log/kafka/adapter.js');
  // A quiet client for the first contact: "Kafka is not there" is one line, not kafkajs's retries.
  const probe = new KafkaEventLog({ brokers: options.kafka.brokers, clientId: 'kafka-broker-probe', logger: silentLogger() });
  const reachable = await probe.ping();
  await probe.close().catch(() => undefined);
  if (!reachable) {
    throw new CliError(`cannot reach Kafka at ${options.kafka.brokers.join(',')} (from ${options.kafka.from}); is it running? (\`npm run kafka\` starts one)`);
  }
  return new KafkaEventLog({ brokers: options.kafka.brokers, clientId: 'kafka-broker', logger });
}

function portError(error: unknown, what: string, flag: string): CliError {
  const message = error instanceof Error ? error.message : String(error);
  if (/already in use/.test(message)) return new CliError(`${what}: ${message}; choose another with ${flag}`);
  return new CliError(`${what}: ${message}`);
}

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
