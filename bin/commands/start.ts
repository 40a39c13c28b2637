/**
 * `kafka-broker start --manifests <dir> [--port 8080] [--admin-port 9090] [--kafka host:port]`
 *
 * The controller, the ingress and the dispatcher as one command, sharing one event log and an
 * in-process contract (on Kafka the ingress runs in a worker thread, or in worker processes, fed
 * the contract by message: bin/ingress-workers.ts; --single-process keeps it here):
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
import cluster from 'node:cluster';
import { stat } from 'node:fs/promises';
import { homedir, hostname } from 'node:os';
import { isIP } from 'node:net';
import path from 'node:path';
import { createAdminServer, registerResourceRoutes } from '../../controller/admin.js';
import { DataPlaneReports } from '../../controller/data-plane-reports.js';
import { createController, type Controller } from '../../controller/main.js';
import type { ObjectView } from '../../controller/reconciler.js';
import { formatProblem, type SourceProblem } from '../../controller/sources/source.js';
import { startIngress, type RunningIngress } from '../../broker-ingress/main.js';
import type { DispatcherConfig } from '../../dispatcher/config.js';
import { DeadLetterService, registerDeadLetterRoutes } from '../../dispatcher/dead-letters/index.js';
import { startDispatcher, type RunningDispatcher } from '../../dispatcher/main.js';
import { registerRewindRoutes } from '../../dispatcher/rewind/routes.js';
import { registerTailRoutes } from '../../dispatcher/tail/routes.js';
import { exposureProblem, staticTokenAuth, type AdminAuth } from '../../core/admin-auth/index.js';
import { InProcessContractSource } from '../../core/contract/source.js';
import { BrokerError, isBrokerError } from '../../core/errors.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import type { EventLog } from '../../core/event-log/port.js';
import { listen } from '../../core/http-server.js';
import { createMetricsRegistry, registerMetricsRoute, type Registry } from '../../core/metrics.js';
import { registerLagRoute } from '../../controller/lag-route.js';
import type { Logger } from '../../core/logger.js';
import { startTracing, tracingSettingsFromEnv } from '../../core/tracing.js';
import { serverToken, stateDir } from '../admin-token.js';
import { FileRewindHistory } from '../../dispatcher/rewind/history.js';
import { CliError, type CliIo } from '../cli.js';
import type { KafkaSecurity } from '../../core/event-log/kafka/security.js';
import { kafkaFrom, openKafka, untilSignal } from '../data-plane.js';
import { runIngressWorker, type IngressThreadData } from '../ingress-worker.js';
import { startIngressThread } from '../ingress-thread-start.js';
import { startIngressWorkers, WorkerStartError, type IngressWorkers, type WorkerReports } from '../ingress-workers.js';
import { warmUp } from '../warm-up.js';
import { clustersOf, KAFKA_AUTH_FLAG, KAFKA_AUTH_USAGE, kafkaAuthRootOf, kafkaClientOf, kafkaSecurityOf, rootCredentials } from '../kafka-auth.js';
import { clusterLogs } from '../../controller/cluster-logs.js';
import type { EventLogClusters } from '../../core/event-log/clusters.js';
import { LOG_FORMAT_FLAG, loggerFrom, loggerOptionsFrom, parseCommandLine, parsePort, stringFlag, type FlagValues } from '../options.js';
import { loadSettings, settingsHelp, START_SETTINGS } from '../settings.js';

/** In memory nothing outlives the process, so a long drain only delays Ctrl-C (see run). */
const MEMORY_SHUTDOWN_DEADLINE_MS = 5000;

const usage = (): string => `Usage: kafka-broker start --manifests <dir> [options]

Runs the controller, the broker ingress and the dispatcher: in one thread on the in-memory event
log; on Kafka the ingress runs in a worker thread of its own (--ingress-workers), so that accepting
and delivering events use separate cores.

Options:
  -m, --manifests <dir>    folder of Knative manifests (*.yaml, *.yml, *.json), watched for changes
  -p, --port <port>        ingress port: POST /<namespace>/<broker> (default 8080)
      --admin-port <port>  admin API port, read by \`kafka-broker get\` and \`describe\`; also /metrics
                           (Prometheus, served on the ingress port too) and /lag (default 9090)
      --host <host>        the ingress's address (default 127.0.0.1; 0.0.0.0 for every interface)
      --admin-host <host>  the admin API's address (default 127.0.0.1)
      --admin-token-file <file>
                           the admin API's bearer token (default $KAFKA_BROKER_ADMIN_TOKEN, else
                           ~/.local/state/kafka-broker/admin-token, created on first use)
      --no-admin-auth      no token on the admin API (refused unless it listens on loopback)
      --kafka <servers>    Kafka bootstrap servers host:port[,host:port]; default $KAFKA_BOOTSTRAP_SERVERS,
                           else the in-memory event log (dev mode: events do not survive a restart)
${KAFKA_AUTH_USAGE}      --ingress-workers <n>
                           on Kafka, ingress workers (default 1: a thread; 2 or more: processes
                           sharing the ingress port; 0 runs the ingress in the main thread, as
                           --single-process does)
      --single-process     everything in one thread (always so on the in-memory event log)
      --log-format <fmt>   json or pretty (default: pretty when stderr is a terminal, else json)
  -h, --help               show this help

Environment:
  KAFKA_BOOTSTRAP_SERVERS  as --kafka
  LOG_LEVEL                fatal, error, warn, info, debug, trace or silent (default info)
  LOG_FORMAT               as --log-format
  OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER(_ARG)
                           OpenTelemetry traces, off unless an exporter is set (docs/tracing.md)
  WARM_UP_EVENTS           events sent through a private copy of the data path before Ready, so
                           that the first real ones find the code compiled (default ${DEFAULT_WARM_UP_EVENTS}; 0: none)

Settings (environment variables; unset or empty means the default shown; durations in ms):
${settingsHelp({ DISPATCHER_SHUTDOWN_DEADLINE_MS: `(${MEMORY_SHUTDOWN_DEADLINE_MS} on the in-memory log)` })}
`;

interface StartOptions {
  readonly manifests: string;
  readonly port: number;
  readonly adminPort: number;
  readonly host: string;
  readonly adminHost: string;
  readonly adminTokenFile: string | undefined;
  readonly adminAuth: boolean;
  readonly kafka: { readonly brokers: string[]; readonly from: string; readonly security?: KafkaSecurity } | undefined;
  /** Ingress workers (1: a thread, more: processes); 0: the ingress runs in the main thread. */
  readonly ingressWorkers: number;
  /** The flags as given, for the workers, which run `start` with the same ones. */
  readonly argv: readonly string[];
  readonly values: FlagValues;
  /** Events of the start-up warm-up (bin/warm-up.ts); 0: none. */
  readonly warmUpEvents: number;
}

/** About where a process's CPU per event levels off (scripts/perf/warm-up-cost.mjs). */
const DEFAULT_WARM_UP_EVENTS = 3000;
const MAX_WARM_UP_EVENTS = 100_000;

/** More would only share the same cores with the dispatcher. */
const MAX_INGRESS_WORKERS = 16;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseOptions(argv, io);
  if (parsed === undefined) {
    io.stdout.write(usage());
    return 0;
  }
  // Credentials are read (and a bad setting refused) before anything starts.
  const options = parsed.kafka === undefined ? parsed : { ...parsed, kafka: { ...parsed.kafka, security: await kafkaSecurityOf(io, stringFlag(parsed.values, 'kafka-auth-dir')) } };
  await checkFolder(options.manifests);
  if (cluster.isWorker) return runWorker(options, io);
  const problem = exposureProblem(options.adminHost, options.adminAuth);
  if (problem !== undefined) throw new CliError(`${problem} (drop --no-admin-auth)`);
  const token = options.adminAuth ? await serverToken(options.adminTokenFile, io.env) : undefined;
  const logger = loggerFrom(io, options.values);

  // In memory nothing outlives the process, so waiting long for deliveries in progress only
  // delays Ctrl-C; on Kafka what is not done is redelivered after a restart, so drain fully.
  const memoryDefaults = options.kafka === undefined ? { shutdownDeadlineMs: MEMORY_SHUTDOWN_DEADLINE_MS } : {};
  const dispatcherConfig = loadSettings(START_SETTINGS.dispatcher, io.env, {});
  const dispatcherSettings: DispatcherConfig = io.env['DISPATCHER_SHUTDOWN_DEADLINE_MS'] ? dispatcherConfig : { ...dispatcherConfig, ...memoryDefaults };
  const mode = options.kafka === undefined
    ? 'in-memory event log (dev mode: events do not survive a restart)'
    : `Kafka at ${options.kafka.brokers.join(',')}`;
  // The banner comes first, as soon as both ports are bound; the summary once the first pass is done.
  const access = token === undefined ? 'no admin token (loopback only)' : `admin token in ${homeShortened(token.from, io.env)}`;
  // From the first bound port on, SIGTERM/SIGINT mean an orderly stop, also in the middle of start-up.
  const stopped = untilSignal(io, logger, ` (deliveries in progress get up to ${Math.round(dispatcherSettings.shutdownDeadlineMs / 1000)} s)`);
  const running = await startAll(options, io, logger, dispatcherSettings, token === undefined ? undefined : staticTokenAuth(token.token), (ingressUrl, adminUrl) => {
    io.stderr.write(`kafka-broker: ingress ${ingressUrl}  admin ${adminUrl}  ${mode}; ${access}\n`);
  });
  io.stderr.write(summary(running.objects(), running.problems(), running.ingressUrl, running.adminUrl));

  // A part that dies (an ingress worker) stops the whole broker: never half of one left running.
  const failure = await Promise.race([stopped.then(() => undefined), running.failed]);
  if (failure !== undefined) {
    logger.error({ reason: failure }, 'a part of the broker stopped: stopping everything');
    io.stderr.write(`kafka-broker: ${failure}: stopping everything\n`);
  }
  await running.close();
  logger.flush();
  if (failure !== undefined) throw new CliError(`stopped: ${failure}`);
  // Every server and consumer is closed; a library timer must not keep the process alive.
  setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
  return 0;
}

function parseOptions(argv: string[], io: CliIo): StartOptions | undefined {
  const { values } = parseCommandLine(argv, {
    manifests: { type: 'string', short: 'm' },
    port: { type: 'string', short: 'p' },
    'admin-port': { type: 'string' },
    host: { type: 'string' },
    'admin-host': { type: 'string' },
    'admin-token-file': { type: 'string' },
    'no-admin-auth': { type: 'boolean' },
    kafka: { type: 'string' },
    'ingress-workers': { type: 'string' },
    'single-process': { type: 'boolean' },
    ...KAFKA_AUTH_FLAG,
    ...LOG_FORMAT_FLAG,
  }, 'start');
  if (values['help'] === true) return undefined;
  if (values['no-admin-auth'] === true && values['admin-token-file'] !== undefined) throw new CliError('--no-admin-auth and --admin-token-file cannot be used together');
  const manifests = stringFlag(values, 'manifests');
  if (manifests === undefined || manifests === '') throw new CliError('--manifests <dir> is required (see kafka-broker start --help)');
  const host = (stringFlag(values, 'host') ?? '127.0.0.1').trim();
  if (host === '') throw new CliError('--host must not be empty');
  const kafka = kafkaFrom(values, io);
  return {
    manifests,
    port: parsePort('--port', values['port'], 8080),
    adminPort: parsePort('--admin-port', values['admin-port'], 9090),
    host,
    adminHost: adminHostOf(stringFlag(values, 'admin-host')),
    adminTokenFile: stringFlag(values, 'admin-token-file'),
    adminAuth: values['no-admin-auth'] !== true,
    kafka,
    ingressWorkers: ingressWorkersOf(values, kafka !== undefined),
    argv,
    values,
    warmUpEvents: warmUpEventsOf(io.env['WARM_UP_EVENTS']),
  };
}

/** WARM_UP_EVENTS: a whole number of events, unset or empty for the default. */
export function warmUpEventsOf(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return DEFAULT_WARM_UP_EVENTS;
  const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isSafeInteger(n) || n > MAX_WARM_UP_EVENTS) throw new CliError(`WARM_UP_EVENTS must be a whole number from 0 to ${MAX_WARM_UP_EVENTS}, got "${raw}"`);
  return n;
}

/** --ingress-workers / --single-process: on Kafka one worker unless told; in memory none. */
function ingressWorkersOf(values: FlagValues, onKafka: boolean): number {
  const flag = stringFlag(values, 'ingress-workers');
  if (values['single-process'] === true && flag !== undefined) throw new CliError('--single-process and --ingress-workers cannot be used together');
  if (values['single-process'] === true) return 0;
  if (flag === undefined) return onKafka ? 1 : 0;
  const n = /^\d+$/.test(flag.trim()) ? Number(flag.trim()) : Number.NaN;
  if (!Number.isInteger(n) || n > MAX_INGRESS_WORKERS) throw new CliError(`--ingress-workers must be a whole number from 0 to ${MAX_INGRESS_WORKERS}, got "${flag}"`);
  if (n > 0 && !onKafka) throw new CliError('--ingress-workers needs Kafka (--kafka or KAFKA_BOOTSTRAP_SERVERS): the in-memory event log lives in one process');
  return n;
}

/** This process is an ingress worker of a split `start` (bin/ingress-workers.ts). */
async function runWorker(options: StartOptions, io: CliIo): Promise<number> {
  return runIngressWorker({ ...ingressThreadData(options, io), logger: loggerFrom(io, options.values) });
}

/** What an ingress worker runs with: the settings as this process reads them. */
function ingressThreadData(options: StartOptions, io: CliIo): IngressThreadData {
  if (options.kafka === undefined) throw new CliError('an ingress worker needs Kafka');
  return {
    config: loadSettings(START_SETTINGS.ingress, io.env, { host: options.host, port: options.port }),
    kafka: options.kafka,
    client: kafkaClientOf(io.env, stringFlag(options.values, 'kafka-client')),
    authRoot: kafkaAuthRootOf(io, stringFlag(options.values, 'kafka-auth-root')),
    traceSettings: tracingSettingsFromEnv(io.env, 'kafka-broker'),
    log: loggerOptionsFrom(io, options.values),
    warmUpEvents: options.warmUpEvents,
  };
}

/** A path under the home directory as `~/...`, as a person would type it. */
function homeShortened(file: string, env: CliIo['env']): string {
  const home = env['HOME'] || homedir();
  return home !== '' && file.startsWith(`${home}/`) ? `~/${file.slice(home.length + 1)}` : file;
}

function adminHostOf(flag: string | undefined): string {
  const host = (flag ?? '127.0.0.1').trim();
  if (host === '') throw new CliError('--admin-host must not be empty');
  return host;
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
  objects(): readonly ObjectView[];
  problems(): readonly SourceProblem[];
  /** Settles with the reason when a part of the broker died on its own. */
  readonly failed: Promise<string>;
  close(): Promise<void>;
}

async function startAll(
  options: StartOptions,
  io: CliIo,
  logger: Logger,
  dispatcherConfig: DispatcherConfig,
  auth: AdminAuth | undefined,
  announce: (ingressUrl: string, adminUrl: string) => void,
): Promise<Running> {
  // Closed in reverse order of start, also when start-up fails half way.
  const closers: { name: string; close: () => Promise<void> }[] = [];
  // A start-up that fails stops the warm-up and waits for it to close its servers.
  const stopWarmUp = new AbortController();
  let warming: Promise<void> = Promise.resolve();
  closers.push({ name: 'warm-up', close: async () => {
    stopWarmUp.abort();
    await warming;
  } });
  let firstPass = false;
  const closeAll = async (): Promise<void> => {
    for (const { name, close } of closers.reverse()) {
      await close().catch((error: unknown) => logger.warn({ err: error }, `closing the ${name} failed`));
    }
    closers.length = 0;
  };
  try {
    // Read before any port is bound (a bad setting fails fast); the ingress URL is known once it listens.
    const given = { manifestsDir: path.resolve(options.manifests), ingressUrl: 'http://127.0.0.1', kafkaBootstrapServers: options.kafka?.brokers ?? [] };
    const controllerConfig = loadSettings(START_SETTINGS.controller, io.env, given);
    const ingressConfig = loadSettings(START_SETTINGS.ingress, io.env, { host: options.host, port: options.port });
    const traceSettings = tracingSettingsFromEnv(io.env, 'kafka-broker');

    const metrics = createMetricsRegistry();
    const log = await openLog(options, logger, io.env, metrics);
    // Brokers whose ConfigMap names a cluster of their own: one registry per component (each
    // closes the clients it no longer uses), credentials from --kafka-auth-root.
    const authRoot = kafkaAuthRootOf(io, stringFlag(options.values, 'kafka-auth-root'));
    const clustersFor = (clientId: string): Promise<EventLogClusters> => clustersOf(log, authRoot, clientId, logger);
    closers.push({ name: 'event log', close: () => log.close() });
    // Off unless OTEL_* configures an exporter (docs/tracing.md); flushed after the dispatcher stops.
    const traces = await startTracing(traceSettings);
    closers.push({ name: 'traces', close: () => traces.shutdown() });
    const contracts = new InProcessContractSource();
    // What the in-process ingress serves: the contract, once the dispatcher runs (see below).
    const ingressContracts = new InProcessContractSource();

    // The admin API binds first (it logs nothing), so a taken port is the only line printed.
    const late: { controller?: Controller; dispatcher?: RunningDispatcher; workers?: IngressWorkers; ownUrls: string[] } = { ownUrls: [] };
    const objects = (): readonly ObjectView[] => late.controller?.reconciler.objects() ?? [];
    const problems = (): readonly SourceProblem[] => late.controller?.reconciler.problems() ?? [];
    // Host names the admin API answers to besides localhost and IP literals (DNS-rebinding protection).
    const hostNames = [hostname(), ...(isIP(options.adminHost) === 0 ? [options.adminHost] : [])];
    const admin = createAdminServer({
      logger,
      notReadyReason: async () => (firstPass ? undefined : 'the manifests are not loaded yet'),
      access: { auth, hostNames },
    });
    registerResourceRoutes(admin, { objects, problems, contract: () => late.controller?.reconciler.contract() });
    // Metrics of the whole broker, ingress workers included (in one process also on the ingress
    // port; a worker's ingress port has the worker's); lag from the in-process dispatcher.
    registerMetricsRoute(admin, { contentType: metrics.contentType, metrics: () => late.workers?.metricsText(metrics) ?? metrics.metrics() });
    registerLagRoute(admin, async () => (await late.dispatcher?.lag()) ?? []);
    // Dead letters: reads the KafkaSinks of the contract in force; replays through the dispatcher's pipeline.
    const deadLetters = new DeadLetterService({
      log, contracts, config: dispatcherConfig, logger, replays: { replicationFactor: controllerConfig.topicReplicationFactor },
    });
    // A replay's `to` may not be this process's own ports (the admin API itself, or the ingress).
    registerDeadLetterRoutes(admin, deadLetters, { ownUrls: () => late.ownUrls });
    closers.push({ name: 'dead letters', close: () => deadLetters.close() });
    // Rewind and skip a trigger through the dispatcher; tail a broker without a consumer group.
    registerRewindRoutes(admin, () => late.dispatcher?.rewinds);
    registerTailRoutes(admin, { log, contracts, logger });
    let adminUrl: string;
    try {
      adminUrl = (await listen(admin, options.adminHost, options.adminPort)).url;
    } catch (error) {
      await admin.close();
      throw portError(error, 'admin API', '--admin-port');
    }
    closers.push({ name: 'admin API', close: () => admin.close() });

    // Begun now, so that it runs while ingress workers warm up on their own.
    warming = warmUp(options.warmUpEvents, stopWarmUp.signal).then(
      (result) => logger.debug(result, 'warm-up done'),
      (error: unknown) => logger.warn({ err: error }, 'the start-up warm-up failed; starting without it'),
    );
    let ingress: Pick<RunningIngress, 'url' | 'httpsUrl' | 'close'>;
    // Ingress workers serve a contract only once it reaches them: a resource is DataPlaneAvailable
    // (and Ready) once every worker has applied the generation that carries it.
    const reports = new DataPlaneReports();
    closers.push({ name: 'data-plane reports', close: async () => reports.close() });
    const ingressStatus = ingressReports(reports);
    try {
      if (options.ingressWorkers > 0) {
        // One worker: a thread of this process; several share the port as processes (bin/ingress-workers.ts).
        const workers = options.ingressWorkers === 1
          ? await startIngressThread(ingressThreadData(options, io), logger, ingressStatus)
          : await startIngressWorkers(options.ingressWorkers, options.argv, logger, ingressStatus);
        late.workers = workers;
        ingress = workers;
      } else {
        ingress = await startIngress({ config: ingressConfig, log, clusters: await clustersFor('kafka-broker-ingress'), contracts: ingressContracts, logger, tracing: traces.tracing, metrics });
        ingressStatus.started(process.pid);
      }
    } catch (error) {
      if (error instanceof WorkerStartError) throw portError(new BrokerError('CONFIG_INVALID', error.message, { details: { errno: error.errno } }), 'ingress', '--port');
      throw portError(error, 'ingress', '--port');
    }
    closers.push({ name: 'ingress', close: () => ingress.close() });
    late.ownUrls = [adminUrl, ingress.url];
    announce(ingress.url, adminUrl);

    // Done before the contract is published, so the ingress is not Ready (it has no contract)
    // until the code of the data path is warm (bin/warm-up.ts).
    await warming;

    const controller = createController({
      // With HTTPS on, brokers' addresses are https (Knative's transport encryption); the http one stays listed while served.
      config: { ...controllerConfig, ingressUrl: ingress.url, ...(ingress.httpsUrl === undefined || controllerConfig.ingressHttpsUrl !== undefined ? {} : { ingressHttpsUrl: ingress.httpsUrl }) },
      log,
      clusterLogs: clusterLogs(await clustersFor('kafka-broker-controller'), rootCredentials(authRoot)),
      // Records a trigger never got (its position gone from the log) show in its status.
      egressFaults: () => late.dispatcher?.faults() ?? new Map(),
      publish: (contract) => contracts.publish(contract),
      dataPlaneReports: reports,
      logger,
      metrics,
    });
    late.controller = controller;
    closers.push({ name: 'controller', close: () => controller.close() });
    await controller.start();
    firstPass = true;

    const dispatcher: RunningDispatcher = await startDispatcher({
      config: dispatcherConfig, log, clusters: await clustersFor('kafka-broker-dispatcher'), contracts, logger, tracing: traces.tracing, metrics, onFaults: () => void controller.reconciler.reconcile(),
      // Rewinds and skips are recorded beside the admin token, so describe shows them after a restart.
      rewindHistory: new FileRewindHistory(path.join(stateDir(io.env), 'rewinds.json')),
    });
    late.dispatcher = dispatcher;
    closers.push({ name: 'dispatcher', close: () => dispatcher.close() });
    // The ingress (in process or in workers) gets the contract only now: its /readyz says ready
    // once every part runs, not while accepted events could not be delivered yet (issue 17).
    const unsubscribe = contracts.subscribe((contract) => {
      if (late.workers !== undefined) {
        late.workers.publish(contract);
        return;
      }
      ingressContracts.publish(contract);
      ingressStatus.applied(process.pid, contract.generation);
    });
    closers.push({ name: 'contract to the ingress', close: async () => void unsubscribe() });
    // So that the summary shows what a client will find: the ingress serving the contract, and
    // the resources Ready for it (bounded: a slow worker is reported as such, not waited for).
    const generation = contracts.current()?.generation;
    if (generation !== undefined) {
      await reports.whenServing('ingress', generation, INGRESS_APPLY_WAIT_MS);
      await controller.reconciler.reconcile();
    }

    // Shutdown order: the ingress stops accepting first, then the controller stops, then the
    // dispatcher drains what is in flight; the log closes last.
    const order = ['contract to the ingress', 'ingress', 'controller', 'data-plane reports', 'dispatcher', 'admin API', 'traces', 'event log'];
    closers.sort((a, b) => order.indexOf(b.name) - order.indexOf(a.name));
    const failed = late.workers?.failed ?? new Promise<string>(() => undefined);
    return { ingressUrl: ingress.url, adminUrl, objects, problems, failed, close: closeAll };
  } catch (error) {
    await closeAll();
    if (error instanceof CliError) throw error;
    throw new CliError(isBrokerError(error) ? error.message : `start-up failed: ${(error as Error).message}`);
  }
}

/** How long start-up waits for the ingress to serve the first contract before its summary. */
const INGRESS_APPLY_WAIT_MS = 10_000;

/**
 * Each ingress process (a worker, or this one) as the controller's data-plane reports see it: a
 * poll held while it lives (a worker reports over IPC, not HTTP). One that exits counts as one
 * gone quiet, so a shutdown does not turn resources not Ready on its way out.
 */
function ingressReports(reports: DataPlaneReports): WorkerReports {
  const held = new Map<number, () => void>();
  const name = (pid: number): string => `ingress-${pid}`;
  return {
    started: (pid) => {
      if (!held.has(pid)) held.set(pid, reports.polling({ process: name(pid), role: 'ingress', applied: 0 }));
    },
    applied: (pid, generation) => reports.report({ process: name(pid), role: 'ingress', applied: generation }),
    exited: (pid) => {
      held.get(pid)?.();
      held.delete(pid);
    },
  };
}

async function openLog(options: StartOptions, logger: Logger, env: CliIo['env'], metrics: Registry): Promise<EventLog> {
  if (options.kafka === undefined) return new MemoryEventLog({ ...loadSettings(START_SETTINGS.memoryLog, env, {}), logger: logger.child({ component: 'event-log' }) });
  // A quiet client for the first contact: "Kafka is not there" is one line, not kafkajs's retries.
  return openKafka(options.kafka.brokers, options.kafka.from, 'kafka-broker', logger, options.kafka.security, '; is it running? (`npm run kafka` starts one)', metrics, kafkaClientOf(env, stringFlag(options.values, 'kafka-client')));
}

/** A port already taken (the errno listen() records) gets the flag that changes it. */
export function portError(error: unknown, what: string, flag: string): CliError {
  const message = error instanceof Error ? error.message : String(error);
  if (isBrokerError(error) && error.details?.['errno'] === 'EADDRINUSE') return new CliError(`${what}: ${message}; choose another with ${flag}`);
  return new CliError(`${what}: ${message}`);
}

const KIND_ORDER = ['Broker', 'Trigger', 'KafkaSink', 'Channel', 'Subscription', 'KafkaChannel', 'InMemoryChannel', 'ConfigMap'];
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const readyOf = (o: ObjectView) => o.status?.conditions?.find((c) => c.type === 'Ready');
const SHOWN = 3;

/**
 * What `start` prints after its banner: what was loaded and how much of it is Ready, where to
 * send events, the admin URL for the other commands, and where to look next.
 */
export function summary(objects: readonly ObjectView[], problems: readonly SourceProblem[], ingressUrl: string, adminUrl: string): string {
  const counts = new Map<string, number>();
  for (const o of objects) counts.set(o.kind, (counts.get(o.kind) ?? 0) + 1);
  const kinds = [...counts.keys()].sort((a, b) => (KIND_ORDER.indexOf(a) + 1 || 99) - (KIND_ORDER.indexOf(b) + 1 || 99) || a.localeCompare(b));
  const withStatus = objects.filter((o) => readyOf(o) !== undefined);
  const notReady = withStatus.filter((o) => readyOf(o)!.status !== 'True');
  const lines: string[] = [];
  lines.push(objects.length === 0
    ? 'loaded no resources yet: add manifests to the folder (it is watched)'
    : `loaded ${plural(objects.length, 'resource')} (${kinds.map((k) => plural(counts.get(k)!, k.toLowerCase())).join(', ')}): ${withStatus.length - notReady.length} of ${withStatus.length} Ready`);
  for (const o of notReady.slice(0, SHOWN)) {
    const ready = readyOf(o)!;
    lines.push(`  not Ready: ${o.kind.toLowerCase()} ${o.metadata.namespace}/${o.metadata.name}: ${ready.reason ?? 'Unknown'}${ready.message === undefined ? '' : `: ${ready.message}`}`);
  }
  if (notReady.length > SHOWN) lines.push(`  ...and ${notReady.length - SHOWN} more (kafka-broker get triggers)`);
  if (problems.length > 0) {
    lines.push(`${plural(problems.length, 'manifest problem')}, logged above:`);
    for (const p of problems.slice(0, SHOWN)) lines.push(`  ${formatProblem(p)}`);
    if (problems.length > SHOWN) lines.push(`  ...and ${problems.length - SHOWN} more (${adminUrl}/problems)`);
  }
  const brokers = objects.filter((o) => o.kind === 'Broker');
  for (const b of brokers.slice(0, SHOWN)) lines.push(`send events to ${b.status?.address?.url ?? `${ingressUrl}/${b.metadata.namespace}/${b.metadata.name}`}`);
  if (brokers.length > SHOWN) lines.push(`  ...and ${brokers.length - SHOWN} more brokers (kafka-broker get brokers)`);
  lines.push(`export KAFKA_BROKER_ADMIN_URL=${adminUrl}`);
  lines.push(`then: kafka-broker get triggers, kafka-broker describe trigger <name>, ${adminUrl}/dead-letters`);
  return lines.map((l) => `  ${l}\n`).join('');
}
