// Starts a real Apache Kafka (KRaft) from the jars named in ./pom.xml, for tests and local
// development: one node, broker and controller in one JVM; or, for a test that needs partition
// leaders on different brokers, a second JVM beside it that is a broker only.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { access, mkdir, mkdtemp, open, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { freePorts } from '../net/ports.js';
import { generateKafkaPki, type KafkaPki } from './pki.js';

export type KafkaGc = 'serial' | 'g1' | 'zgc';

/**
 * The collector settings of each KafkaGc choice; g1's are the ones kafka-run-class.sh uses. zgc is
 * Java 17's (not generational before 21): its pauses stay under a millisecond; see docs/latency.md.
 */
const GC_FLAGS: Readonly<Record<KafkaGc, readonly string[]>> = {
  serial: ['-XX:+UseSerialGC'],
  g1: ['-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:InitiatingHeapOccupancyPercent=35', '-XX:+ExplicitGCInvokesConcurrent'],
  zgc: ['-XX:+UseZGC'],
};

export interface StartKafkaOptions {
  onProgress?: (line: string) => void;
  heapMb?: number;
  /**
   * The JVM's collector. 'serial' (default, what the tests use) starts fastest and needs the least
   * memory; its young collections stop Kafka 20-160 ms on a loaded machine, which the tests do not
   * measure. 'zgc' (what `npm run kafka` and the benchmarks use) stopped it under 0.1 ms in the same
   * runs, 'g1' (Kafka's own default) 7-25 ms at the median with a tail of 100-200 ms (issue 17,
   * docs/latency.md).
   */
  gc?: KafkaGc;
  /**
   * Also open secured listeners (see SecuredKafka), with certificates made for this start and
   * SCRAM users created at format time. Needs the openssl command. The plaintext listener stays:
   * it is the broker's own (inter-broker) listener, and tests set up through it.
   */
  security?: boolean;
  /**
   * Listen on these ports instead of free ones. With `dataDir`, a later start with the same
   * ports and folder is a restart of the same broker (the fault suite stops and restarts Kafka).
   */
  ports?: { readonly broker: number; readonly controller: number };
  /**
   * Keep the data in this folder (formatted on first use) and leave it there after stop(); the
   * caller removes it. Default: a folder inside the run's temporary work dir, removed on stop.
   */
  dataDir?: string;
  /**
   * The address (host:port) clients are told to use in metadata responses, e.g. a fault-injecting
   * proxy in front of the broker port; it is then also `bootstrapServers`. It must forward to the
   * broker port before start-up, since readiness is checked through it.
   */
  advertisedAddress?: string;
  /**
   * 2: a cluster of two brokers (node 1 broker and controller, node 2 broker only; default 1),
   * each JVM with `heapMb` (default 384 each). Replication factors stay 1: a topic's partitions
   * are spread over the two, or placed with a replica assignment. Not with `security`, `ports`,
   * `dataDir` or `advertisedAddress`, which are for the single broker.
   */
  brokers?: 1 | 2;
}

/** A user and password the secured Kafka knows, for one SASL mechanism. */
export interface KafkaUser {
  readonly username: string;
  readonly password: string;
}

/** The secured listeners of a Kafka started with `security: true`, and what clients need for them. */
export interface SecuredKafka {
  /** SASL over TLS (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512); no client certificate asked for. */
  readonly saslSsl: string;
  /** TLS with a client certificate required (mTLS), no SASL. */
  readonly mtls: string;
  /** SASL without TLS. */
  readonly saslPlaintext: string;
  /** TLS serving a certificate that has expired; no client certificate asked for. */
  readonly expiredServer: string;
  readonly users: { readonly plain: KafkaUser; readonly scramSha256: KafkaUser; readonly scramSha512: KafkaUser };
  readonly pki: KafkaPki;
}

export interface RunningKafka {
  /** host:port, or with two brokers both of them comma-separated. */
  bootstrapServers: string;
  /** The ports node 1 listens on (pass them back with the same `dataDir` to restart it). */
  ports: { readonly broker: number; readonly controller: number };
  /** Node 1's log; node 2's is `kafka-2.log` beside it. */
  logFile: string;
  /** Present when started with `security: true`. */
  security?: SecuredKafka;
  stop(): Promise<void>;
  /**
   * Resolves only if a broker dies on its own (never after stop()), with a one-line
   * reason followed by the log's last lines. The JVM doesn't keep Node's event loop
   * alive, so a long-running caller waits on this (or on a signal) to stay up.
   */
  crashed: Promise<string>;
}

/** A failure worth one line to the user; `message` may carry the log tail on following lines. */
export class KafkaStartError extends Error {
  override name = 'KafkaStartError';
}

const POM_FILE = fileURLToPath(new URL('./pom.xml', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CACHE_DIR = join(REPO_ROOT, 'node_modules', '.cache', 'kafka-broker');
const TEMP_PREFIX = 'kafka-broker-kafka-';
const OWNER_FILE = 'owner.pid';

const DEFAULT_HEAP_MB = 768;
/** Each JVM's of a two-broker cluster: two default heaps would be 1.5 GB for a test. */
const CLUSTER_HEAP_MB = 384;
// Generous for a cold JVM on a busy 2-core machine; a warm start takes a few seconds.
const READY_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 15_000;
const LOG_TAIL_LINES = 30;

export async function startKafka(options: StartKafkaOptions = {}): Promise<RunningKafka> {
  const progress = options.onProgress ?? (() => {});
  const nodes = options.brokers ?? 1;
  if (nodes === 2 && (options.security || options.ports !== undefined || options.dataDir !== undefined || options.advertisedAddress !== undefined)) {
    throw new KafkaStartError('a two-broker Kafka takes none of the options security, ports, dataDir and advertisedAddress');
  }
  const heapMb = options.heapMb ?? (nodes === 2 ? CLUSTER_HEAP_MB : DEFAULT_HEAP_MB);

  const java = findJava();
  await reapOrphans(progress);
  const classpath = await resolveClasspath(progress);

  const workDir = await mkdtemp(join(tmpdir(), TEMP_PREFIX));
  await writeFile(join(workDir, OWNER_FILE), `${process.pid}\n`);
  const logFile = join(workDir, 'kafka.log');
  const removeWorkDir = (): void => rmSync(workDir, { recursive: true, force: true });
  const removeData = (): Promise<unknown> => Promise.all(['data', 'data-2'].map((dir) => rm(join(workDir, dir), { recursive: true, force: true })));

  /** The JVMs started, node 1 first. */
  const children: ChildProcess[] = [];
  const killAll = (): void => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  // Covers process.exit() and uncaught errors in the caller; the JVMs must not outlive us.
  const onExit = (): void => {
    killAll();
    removeWorkDir();
  };
  process.once('exit', onExit);

  try {
    const [brokerPort, controllerPort, ...morePorts] = options.ports === undefined
      ? await freePorts(2 + (options.security ? 4 : 0) + (nodes - 1))
      : [options.ports.broker, options.ports.controller, ...(options.security ? await freePorts(4) : [])];
    const secondPort = nodes === 2 ? morePorts[0]! : undefined;
    const advertised = options.advertisedAddress ?? `127.0.0.1:${brokerPort}`;
    const bootstrapServers = secondPort === undefined ? advertised : `${advertised},127.0.0.1:${secondPort}`;
    const dataDir = options.dataDir ?? join(workDir, 'data');
    const configFile = join(workDir, 'server.properties');
    const log4jFile = join(workDir, 'log4j2.properties');
    let security: SecuredKafka | undefined;
    let securedProps: Record<string, string> = {};
    if (options.security) {
      progress('Making certificates for the secured listeners');
      const pki = await generateKafkaPki(workDir);
      ({ security, props: securedProps } = await securedListeners(workDir, morePorts as [number, number, number, number], pki));
    }
    await writeFile(configFile, serverProperties(brokerPort!, controllerPort!, dataDir, advertised, securedProps));
    await writeFile(log4jFile, LOG4J2_PROPERTIES);

    /** Node 2 of a two-broker cluster: its own port, data, config and log; node 1's controller. */
    const second = secondPort === undefined ? undefined : {
      port: secondPort,
      dataDir: join(workDir, 'data-2'),
      configFile: join(workDir, 'server-2.properties'),
      logFile: join(workDir, 'kafka-2.log'),
      logsDir: join(workDir, 'logs-2'),
    };
    if (second !== undefined) {
      await writeFile(second.configFile, serverProperties(second.port, controllerPort!, second.dataDir, `127.0.0.1:${second.port}`, {}, 2));
    }

    const jvmArgs = (logsDir: string): string[] => [
      `-Xms${Math.min(256, heapMb)}m`,
      `-Xmx${heapMb}m`,
      ...GC_FLAGS[options.gc ?? 'serial'],
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${log4jFile}`,
      `-Dkafka.logs.dir=${logsDir}`,
      '-cp',
      classpath,
    ];

    // A data folder formatted by an earlier start is a restart: its cluster id is kept.
    if (!existsSync(join(dataDir, 'meta.properties'))) {
      progress('Formatting KRaft storage');
      const clusterId = randomClusterId();
      const scram = security === undefined ? [] : [
        '--add-scram', `SCRAM-SHA-256=[name=${security.users.scramSha256.username},password=${security.users.scramSha256.password}]`,
        '--add-scram', `SCRAM-SHA-512=[name=${security.users.scramSha512.username},password=${security.users.scramSha512.password}]`,
      ];
      const format = (args: string[], configFile: string, logFile: string): Promise<void> =>
        runToLog(java, [...args, 'kafka.tools.StorageTool', 'format', `--cluster-id=${clusterId}`, '-c', configFile, ...scram], logFile).then(async (code) => {
          if (code !== 0) throw new KafkaStartError(`Kafka storage format failed (exit ${code}); log: ${logFile}${await logTail(logFile)}`);
        });
      // Both nodes of a cluster carry the same cluster id; formatting them side by side saves a JVM start.
      await Promise.all([
        format(jvmArgs(join(workDir, 'logs')), configFile, logFile),
        ...(second === undefined ? [] : [format(jvmArgs(second.logsDir), second.configFile, second.logFile)]),
      ]);
    }

    progress(`Starting Kafka on ${bootstrapServers}`);
    /** Spawns one node; `exited` resolves with why it exited, and its log. */
    const start = async (configFile: string, logFile: string, logsDir: string): Promise<{ exited: Promise<string>; logFile: string }> => {
      const logStream = await open(logFile, 'a');
      const child = spawn(java, [...jvmArgs(logsDir), 'kafka.Kafka', configFile], { stdio: ['ignore', logStream.fd, logStream.fd] });
      children.push(child);
      // A caller that forgets stop() must still be able to exit; the 'exit' hook then kills the JVM.
      child.unref();
      await logStream.close();
      const exited = new Promise<string>((resolve) => {
        child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit ${code}`));
        child.once('error', (err) => resolve(err.message));
      });
      return { exited, logFile };
    };
    const exits = [await start(configFile, logFile, join(workDir, 'logs'))];
    if (second !== undefined) exits.push(await start(second.configFile, second.logFile, second.logsDir));
    /** The first JVM to exit: its reason and its log. */
    const firstExit = Promise.race(exits.map(({ exited, logFile }, i) => exited.then((reason) => ({ reason: exits.length > 1 ? `node ${i + 1}: ${reason}` : reason, logFile }))));

    await waitUntilReady(bootstrapServers.split(','), nodes, firstExit, logFile);
    progress(`Kafka is ready on ${bootstrapServers} (log: ${logFile})`);

    const running = [...children];
    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> =>
      (stopping ??= (async () => {
        // Brokers before the controller: a broker's controlled shutdown asks the controller.
        for (let i = running.length - 1; i >= 0; i--) await terminate(running[i]!, exits[i]!.exited);
        process.removeListener('exit', onExit);
        await rm(workDir, { recursive: true, force: true });
      })());
    const crashed = firstExit.then(async ({ reason, logFile }) => {
      if (stopping) return new Promise<string>(() => {});
      // The other node of a cluster is of no use alone.
      killAll();
      // Keep the log for the report's reader; the next start reaps the dir.
      process.removeListener('exit', onExit);
      await removeData();
      return `Kafka exited unexpectedly (${reason}); log: ${logFile}${await logTail(logFile)}`;
    });
    return { bootstrapServers, ports: { broker: brokerPort!, controller: controllerPort! }, logFile, ...(security === undefined ? {} : { security }), stop, crashed };
  } catch (err) {
    // Keep the log for the user to read; the next start reaps the dir once this process is gone.
    killAll();
    process.removeListener('exit', onExit);
    await removeData();
    throw err;
  }
}

// ---------------------------------------------------------------------------
// Classpath resolution

async function resolveClasspath(progress: (line: string) => void): Promise<string> {
  const pom = await readFile(POM_FILE);
  // MAVEN_OPTS can point Maven at another local repository, and with it other jar paths.
  const key = createHash('sha256').update(pom).update('\0').update(process.env.MAVEN_OPTS ?? '').digest('hex').slice(0, 16);
  const cacheFile = join(CACHE_DIR, `kafka-classpath-${key}.txt`);

  const cached = await readFile(cacheFile, 'utf8').catch(() => undefined);
  if (cached !== undefined && (await allExist(cached.trim().split(delimiter)))) return cached.trim();

  const mvn = findExecutable('mvn');
  if (!mvn) {
    throw new KafkaStartError('mvn not found on PATH: Maven is needed once to fetch the Kafka jars (e.g. apt-get install maven)');
  }
  progress('Resolving Apache Kafka jars with Maven (first run only: about 65 MB into the local Maven repository, ~/.m2)');
  await mkdir(CACHE_DIR, { recursive: true });
  const outFile = `${cacheFile}.${process.pid}.tmp`;
  // -B: one plain line per download instead of a progress bar; -U: don't trust failures
  // Maven cached from an earlier, maybe offline, attempt; no colours: we parse the lines.
  const args = ['-B', '-U', '-Dstyle.color=never', '-f', POM_FILE, 'dependency:build-classpath', `-Dmdep.outputFile=${outFile}`, '-Dmdep.includeScope=runtime'];
  const { code, lines } = await runMaven(mvn, args, progress);
  if (code !== 0) {
    // Maven's first [ERROR] line names the cause; the rest is boilerplate about -e and -X.
    const cause = lines
      .filter((l) => l.startsWith('[ERROR]'))
      .map((l) => l.replace(/^\[ERROR\]\s*/, '').replace(/\s*-> \[Help \d+\]$/, ''))
      .find((l) => l !== '');
    throw new KafkaStartError(`Maven could not resolve the Kafka jars (exit ${code}): ${cause ?? lines.slice(-3).join(' | ')}`);
  }
  const classpath = (await readFile(outFile, 'utf8')).trim();
  await rename(outFile, cacheFile); // atomic: a concurrent start never reads half a file
  return classpath;
}

function runMaven(mvn: string, args: string[], progress: (line: string) => void): Promise<{ code: number; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(mvn, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let metadataFiles = 0;
    const onLine = (line: string): void => {
      lines.push(line);
      if (lines.length > 500) lines.shift();
      const done = /^\[INFO\] Downloaded from [^:]+: (\S+) \(([^)]*)\)/.exec(line);
      if (!done) return;
      const file = done[1]!.replace(/^.*\/maven2\//, '');
      // A line per jar (where the bytes are); the ~250 small poms only as a running count.
      if (file.endsWith('.jar')) progress(`  downloaded ${file} (${done[2]!.split(' at ')[0]})`);
      else if (++metadataFiles % 50 === 0) progress(`  downloaded ${metadataFiles} pom/metadata files`);
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    child.once('error', (err) => reject(new KafkaStartError(`could not run Maven: ${err.message}`)));
    child.once('close', (code) => resolve({ code: code ?? 1, lines }));
  });
}

async function allExist(paths: string[]): Promise<boolean> {
  if (paths.length === 0 || paths[0] === '') return false;
  const checks = await Promise.all(paths.map((p) => access(p).then(() => true, () => false)));
  return checks.every(Boolean);
}

// ---------------------------------------------------------------------------
// Broker configuration

/** Node 1 is broker and controller; node 2 (of a two-broker cluster) a broker only, using node 1's controller. */
function serverProperties(brokerPort: number, controllerPort: number, dataDir: string, advertised: string, secured: Record<string, string>, node: 1 | 2 = 1): string {
  const props: Record<string, string | number> = {
    'process.roles': node === 1 ? 'broker,controller' : 'broker',
    'node.id': node,
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: node === 1 ? `PLAINTEXT://127.0.0.1:${brokerPort},CONTROLLER://127.0.0.1:${controllerPort}` : `PLAINTEXT://127.0.0.1:${brokerPort}`,
    'advertised.listeners': `PLAINTEXT://${advertised}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': dataDir,
    // Topics are created explicitly, as in production; a typo must fail, not create a topic.
    'auto.create.topics.enable': 'false',
    'num.partitions': 1,
    'default.replication.factor': 1,
    'min.insync.replicas': 1,
    'offsets.topic.replication.factor': 1,
    // Few partitions keep the first group coordinator lookup quick.
    'offsets.topic.num.partitions': 4,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 4,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    'group.initial.rebalance.delay.ms': 0,
    // Lets tests use short consumer session timeouts to exercise member failure.
    'group.min.session.timeout.ms': 1000,
    'num.network.threads': 2,
    'num.io.threads': 4,
    'num.recovery.threads.per.data.dir': 1,
    // The log cleaner (it compacts __consumer_offsets) keeps a dedupe buffer on the heap, 128 MB by
    // default: with the 256 MB starting heap it left the young generation little room, so both
    // collectors ran long and frequent collections under load (issue 17). 16 MB holds ~700k keys.
    'log.cleaner.dedupe.buffer.size': 16 * 1024 * 1024,
  };
  // The secured listeners come on top of the plaintext and controller ones.
  for (const key of ['listeners', 'advertised.listeners', 'listener.security.protocol.map'] as const) {
    if (secured[key] !== undefined) props[key] = `${props[key]},${secured[key]}`;
  }
  for (const [key, value] of Object.entries(secured)) if (!(key in props)) props[key] = value;
  return Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
}

/**
 * Four listeners beside the plaintext one, each named for what it tests: SASL_SSL, MTLS (SSL with
 * a client certificate required), SASL_PLAINTEXT, and EXPIRED (SSL serving an expired
 * certificate). Key stores are PEM files (Kafka 4 reads them as such): no keytool, no passwords.
 */
async function securedListeners(
  workDir: string,
  [saslSslPort, mtlsPort, saslPlainPort, expiredPort]: [number, number, number, number],
  pki: KafkaPki,
): Promise<{ security: SecuredKafka; props: Record<string, string> }> {
  const users = {
    plain: { username: 'plain-user', password: randomBytes(12).toString('base64url') },
    scramSha256: { username: 'scram256-user', password: randomBytes(12).toString('base64url') },
    scramSha512: { username: 'scram512-user', password: randomBytes(12).toString('base64url') },
  };
  const serverPem = join(workDir, 'server.pem');
  const expiredPem = join(workDir, 'expired-server.pem');
  await writeFile(serverPem, `${pki.server.key}${pki.server.cert}`, { mode: 0o600 });
  await writeFile(expiredPem, `${pki.expiredServer.key}${pki.expiredServer.cert}`, { mode: 0o600 });

  const listeners = { SASL_SSL: saslSslPort, MTLS: mtlsPort, SASL_PLAINTEXT: saslPlainPort, EXPIRED: expiredPort };
  const urls = Object.entries(listeners).map(([name, port]) => `${name}://127.0.0.1:${port}`).join(',');
  const props: Record<string, string> = {
    listeners: urls,
    'advertised.listeners': urls,
    'listener.security.protocol.map': 'SASL_SSL:SASL_SSL,MTLS:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,EXPIRED:SSL',
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': serverPem,
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.location': pki.caFile,
    'listener.name.mtls.ssl.client.auth': 'required',
    'listener.name.expired.ssl.keystore.type': 'PEM',
    'listener.name.expired.ssl.keystore.location': expiredPem,
  };
  for (const listener of ['sasl_ssl', 'sasl_plaintext']) {
    props[`listener.name.${listener}.plain.sasl.jaas.config`] =
      `org.apache.kafka.common.security.plain.PlainLoginModule required user_${users.plain.username}="${users.plain.password}";`;
    for (const scram of ['scram-sha-256', 'scram-sha-512']) {
      props[`listener.name.${listener}.${scram}.sasl.jaas.config`] = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
    }
  }
  const at = (port: number): string => `127.0.0.1:${port}`;
  return {
    security: { saslSsl: at(saslSslPort), mtls: at(mtlsPort), saslPlaintext: at(saslPlainPort), expiredServer: at(expiredPort), users, pki },
    props,
  };
}

const LOG4J2_PROPERTIES = `# Everything to stdout, which kafka.ts sends to kafka.log in the work dir.
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
# Per-request logs would drown the useful lines.
logger.request.name = kafka.request.logger
logger.request.level = WARN
`;

/** Kafka cluster ids are 16 random bytes in unpadded base64url (what `kafka-storage random-uuid` prints). */
function randomClusterId(): string {
  // A base64url id may begin with '-', which kafka-storage's argument parser reads as a flag
  // (about one start in 64 failed so); passed as `--cluster-id=<id>` it is always a value.
  return randomBytes(16).toString('base64url');
}

// ---------------------------------------------------------------------------
// Processes

function findJava(): string {
  const fromHome = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : undefined;
  const java = fromHome && existsSync(fromHome) ? fromHome : findExecutable('java');
  if (!java) throw new KafkaStartError('java not found (set JAVA_HOME or put java on PATH): Kafka 4 needs Java 17 or newer');
  return java;
}

function findExecutable(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

function runToLog(command: string, args: string[], logFile: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(logFile, { flags: 'a' });
    out.once('open', () => {
      const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.pipe(out, { end: false });
      child.stderr.pipe(out, { end: false });
      child.once('error', (err) => reject(new KafkaStartError(`could not run ${command}: ${err.message}`)));
      child.once('close', (code) => out.end(() => resolve(code ?? 1)));
    });
    out.once('error', reject);
  });
}

/** Ready: every node answers as an unfenced broker (`nodes` of them in the metadata). */
async function waitUntilReady(bootstrapServers: string[], nodes: number, exited: Promise<{ reason: string; logFile: string }>, logFile: string): Promise<void> {
  const kafka = new Kafka({
    clientId: 'kafka-broker-startup-probe',
    brokers: bootstrapServers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  });
  let exit: { reason: string; logFile: string } | undefined;
  void exited.then((first) => (exit = first));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = '';

  while (Date.now() < deadline) {
    if (exit !== undefined) {
      throw new KafkaStartError(`Kafka stopped before it was ready (${exit.reason}); log: ${exit.logFile}${await logTail(exit.logFile)}`);
    }
    const admin = kafka.admin();
    // kafkajs refuses an idempotent producer without retries.
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 3, initialRetryTime: 100 } });
    try {
      await admin.connect();
      // A KRaft broker only serves requests once it is unfenced, so an answer means usable.
      await admin.fetchTopicMetadata({ topics: [] });
      // A broker joins the metadata once the controller has unfenced it.
      const { brokers } = await admin.describeCluster();
      if (brokers.length < nodes) throw new Error(`${brokers.length} of ${nodes} brokers registered`);
      // The rest spares the first test the broker's lazy setup, which kafkajs reports as
      // errors and retries: asking about a group creates and loads __consumer_offsets, and
      // an idempotent producer makes the broker fetch its first block of producer ids.
      await admin.describeGroups(['kafka-broker-startup-probe']);
      await producer.connect();
      return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    } finally {
      await producer.disconnect().catch(() => {});
      await admin.disconnect().catch(() => {});
    }
    await Promise.race([sleep(250), exited]);
  }
  throw new KafkaStartError(
    `Kafka did not answer on ${bootstrapServers.join(',')} within ${READY_TIMEOUT_MS / 1000} s (last error: ${lastError}); log: ${logFile}${await logTail(logFile)}`,
  );
}

async function terminate(child: ChildProcess, exited: Promise<string>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

/**
 * A run whose Node process was SIGKILLed leaves its temp dir and possibly its JVM behind.
 * Clean those up when their owner is gone; live owners (other terminals, other engineers) are left alone.
 */
async function reapOrphans(progress: (line: string) => void): Promise<void> {
  const base = tmpdir();
  const entries = await readdir(base).catch(() => [] as string[]);
  for (const name of entries.filter((n) => n.startsWith(TEMP_PREFIX))) {
    const dir = join(base, name);
    const owner = Number.parseInt(await readFile(join(dir, OWNER_FILE), 'utf8').catch(() => ''), 10);
    if (!Number.isInteger(owner) || isAlive(owner)) continue; // no owner file yet: a start in progress
    for (const pid of kafkaProcessesUsing(dir)) {
      progress(`Stopping orphaned Kafka (pid ${pid}) from ${dir}`);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await rm(dir, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed owner can linger as a zombie until its parent reaps it; it is gone all the same.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no procfs: trust kill(0)
  }
}

/** JVMs whose command line names this work dir: that ties the pid to our run, not to a reused pid. */
function kafkaProcessesUsing(dir: string): number[] {
  const pids: number[] = [];
  let procEntries: string[];
  try {
    procEntries = readdirSync('/proc');
  } catch {
    return pids; // no procfs: nothing we can safely match
  }
  for (const entry of procEntries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes('kafka.Kafka') && cmdline.includes(dir)) pids.push(Number(entry));
    } catch {
      // process ended while we looked
    }
  }
  return pids;
}

// ---------------------------------------------------------------------------
// Small helpers

async function logTail(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const lines = text.trimEnd().split('\n').slice(-LOG_TAIL_LINES);
  return lines.length && lines[0] !== '' ? `\n--- last lines of ${file} ---\n${lines.join('\n')}` : '';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
