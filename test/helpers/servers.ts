import type { ServerResponse } from 'node:http';
import type { TestContext } from 'node:test';
import { decodeHttp } from '../../core/cloudevents/http-binding.js';
import type { CloudEvent } from '../../core/cloudevents/event.js';
import { toKafkaRecord } from '../../core/cloudevents/kafka-binding.js';
import { InProcessContractSource } from '../../core/contract/source.js';
import type { Contract, Egress, Resource } from '../../core/contract/types.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import type { EventLog } from '../../core/event-log/port.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { dispatcherConfigSchema, type DispatcherConfig } from '../../dispatcher/config.js';
import { startDispatcher, type RunningDispatcher } from '../../dispatcher/main.js';
import { makeBroker, makeContract, makeEgress } from './builders.js';
import { startRecordingServer, type ReceivedRequest, type RecordingServer } from './http.js';
import { kafkaEventLog } from './kafka.js';
import { uniqueName } from './wait.js';

type After = Pick<TestContext, 'after'>;

// ---- event logs

/** An event log to run a scenario on; scenarios loop over both kinds. */
export interface LogKind {
  readonly name: 'memory' | 'kafka';
  create(t: After): EventLog;
  /** Generous waits: a consumer group join on Kafka takes seconds on a busy machine. */
  readonly timeoutMs: number;
}

export const memoryLog: LogKind = {
  name: 'memory',
  create: (t) => {
    const log = new MemoryEventLog();
    t.after(() => log.close());
    return log;
  },
  timeoutMs: 15_000,
};

export const kafkaLog: LogKind = { name: 'kafka', create: (t) => kafkaEventLog(t, 'dispatch-test'), timeoutMs: 60_000 };

/** Both logs: every dispatcher scenario runs on each. Kafka needs KAFKA_BOOTSTRAP_SERVERS. */
export const eventLogKinds: readonly LogKind[] = [memoryLog, kafkaLog];

// ---- subscribers

export interface Subscriber extends RecordingServer {
  /** The requests decoded as CloudEvents (requests that are not are left out). */
  events(): CloudEvent[];
  /** Event ids in arrival order. */
  ids(): string[];
}

/** A recording HTTP server on port 0 that answers 200 unless told otherwise; closed after the test. */
export async function startSubscriber(t: After): Promise<Subscriber> {
  const server = await startRecordingServer();
  t.after(() => server.close());
  const events = (): CloudEvent[] => server.requests.flatMap((r) => decodeRequest(r));
  return Object.assign(server, { events, ids: () => events().map((e) => String(e.attributes['id'])) });
}

export function decodeRequest(request: ReceivedRequest): CloudEvent[] {
  const decoded = decodeHttp(request.headers, request.body);
  return decoded.ok ? decoded.events : [];
}

/** Answers with a status (and optional headers and body). */
export function answer(response: ServerResponse, status: number, headers: Record<string, string> = {}, body = ''): void {
  response.writeHead(status, headers);
  response.end(body);
}

// ---- events

let eventCounter = 0;
export function makeEvent(attributes: Record<string, string | number> = {}, data: Buffer | string = '{"hello":"world"}'): CloudEvent {
  eventCounter++;
  return {
    attributes: {
      specversion: '1.0', id: `e-${process.pid}-${eventCounter}`, source: '/test/dispatcher', type: 'test.event', datacontenttype: 'application/json',
      knativebrokerttl: 255, ...attributes,
    },
    data: typeof data === 'string' ? Buffer.from(data) : data,
  };
}

// ---- a dispatcher on a broker topic

export interface ScenarioOptions {
  readonly partitions?: number;
  /** The broker's egresses; destinations usually point at subscribers started by the test. */
  readonly egresses: readonly Egress[];
  readonly broker?: Partial<Resource>;
  readonly config?: Partial<DispatcherConfig>;
  readonly logger?: Logger;
  /** false: leave starting a dispatcher to the test (e.g. one in a child process). Default true. */
  readonly startDispatcher?: boolean;
}

export interface Scenario {
  readonly log: EventLog;
  readonly topic: string;
  readonly contracts: InProcessContractSource;
  readonly config: DispatcherConfig;
  dispatcher: RunningDispatcher;
  readonly broker: Resource;
  /** Appends events to the broker's topic, as the ingress would. */
  send(events: readonly CloudEvent[]): Promise<void>;
  /** Publishes a new generation with these egresses on the broker (groups initialised at the start). */
  publish(egresses: readonly Egress[], broker?: Partial<Resource>): Promise<Contract>;
  /** Closes the running dispatcher (as on SIGTERM) and starts a new one on the same log. */
  restart(config?: Partial<DispatcherConfig>): Promise<RunningDispatcher>;
  /** Starts a dispatcher (when the previous one was closed by the test). */
  start(config?: Partial<DispatcherConfig>): Promise<RunningDispatcher>;
}

/** Egress names unique per test, so that consumer groups never meet across tests or runs. */
export function uniqueEgress(name: string, overrides: Partial<Egress> = {}): Egress {
  const unique = uniqueName(name);
  return makeEgress(unique, { consumerGroup: uniqueName(`knative-trigger-default-${name}`), ...overrides });
}

/**
 * A broker topic on the given log, a contract with the given egresses (their groups fixed at the
 * topic's start, as the controller would), and a running dispatcher — all torn down after the test.
 */
export async function startScenario(t: After, kind: LogKind, options: ScenarioOptions): Promise<Scenario> {
  // `after` hooks run in the order they were added: dispatchers close before their log does.
  const running = new Set<RunningDispatcher>();
  t.after(async () => {
    for (const d of running) await d.close();
  });
  const log = kind.create(t);
  const topic = uniqueName('dispatch');
  await log.ensureTopic(topic, { partitions: options.partitions ?? 1, replicationFactor: 1 });
  const brokerName = uniqueName('broker');
  let broker = makeBroker(brokerName, [...options.egresses], { topics: [topic], ...options.broker });
  for (const egress of options.egresses) await log.initGroup(egress.consumerGroup, topic, 'earliest');
  const contracts = new InProcessContractSource(makeContract([broker], 1));
  // Short waits so the suite stays quick; a test about one of them sets its own.
  const config = dispatcherConfigSchema.parse({
    stallBackoffBaseMs: 20, maxStallBackoffMs: 200, commitIntervalMs: 100, egressRestartBackoffMs: 200, shutdownDeadlineMs: 1000, ...options.config,
  });
  const start = async (overrides: Partial<DispatcherConfig> = {}): Promise<RunningDispatcher> => {
    const d = await startDispatcher({ config: { ...config, ...overrides }, log, contracts, logger: options.logger ?? silentLogger() });
    running.add(d);
    scenario.dispatcher = d;
    return d;
  };
  const scenario: Scenario = {
    log, topic, contracts, config, broker,
    dispatcher: undefined as unknown as RunningDispatcher,
    send: async (events) => {
      await log.append(topic, events.map((e) => toKafkaRecord(e)));
    },
    publish: async (egresses, overrides = {}) => {
      for (const egress of egresses) await log.initGroup(egress.consumerGroup, topic, 'earliest');
      broker = { ...broker, ...overrides, egresses: [...egresses] };
      const contract = makeContract([broker], (contracts.current()?.generation ?? 0) + 1);
      contracts.publish(contract);
      return contract;
    },
    restart: async (overrides) => {
      await scenario.dispatcher.close();
      return start(overrides);
    },
    start,
  };
  if (options.startDispatcher !== false) await start();
  return scenario;
}
