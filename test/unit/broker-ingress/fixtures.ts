/**
 * Shared by the ingress's unit, integration and benchmark files: an ingress on port 0 over a
 * given log and contract source, torn down through the test context.
 */
import type { TestContext } from 'node:test';
import { request } from 'undici';
import { brokerTopic } from '../../../core/contract/paths.js';
import type { Resource } from '../../../core/contract/types.js';
import { InProcessContractSource } from '../../../core/contract/source.js';
import { MemoryEventLog } from '../../../core/event-log/memory.js';
import type { EventLog } from '../../../core/event-log/port.js';
import { silentLogger } from '../../../core/logger.js';
import { ingressConfigSchema, type IngressConfig } from '../../../broker-ingress/config.js';
import { startIngress, type RunningIngress } from '../../../broker-ingress/main.js';
import { makeBroker, makeContract } from '../../helpers/builders.js';
import { kafkaEventLog } from '../../helpers/kafka.js';
import { uniqueName } from '../../helpers/wait.js';

type After = Pick<TestContext, 'after'>;

export interface LogFactory {
  readonly name: 'memory' | 'kafka';
  create(t: After): EventLog;
}

export const logFactories: readonly LogFactory[] = [
  {
    name: 'memory',
    create: (t) => {
      const log = new MemoryEventLog();
      t.after(() => log.close());
      return log;
    },
  },
  { name: 'kafka', create: (t) => kafkaEventLog(t, 'ingress-test') },
];

export interface TestIngress {
  readonly ingress: RunningIngress;
  readonly contracts: InProcessContractSource;
  readonly log: EventLog;
  /** The first broker's path and topic. */
  readonly path: string;
  readonly topic: string;
  readonly brokers: Resource[];
  /** Publishes the next generation with these resources. */
  publish(resources: Resource[]): void;
  post(path: string, headers: Record<string, string>, body?: Buffer | string): Promise<Reply>;
}

export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  json(): Record<string, unknown>;
}

/** A broker with a unique name and topic (created on the log, 3 partitions). */
export async function uniqueBroker(log: EventLog, overrides: Partial<Resource> = {}): Promise<Resource> {
  const name = uniqueName('b').toLowerCase();
  const broker = makeBroker(name, [], overrides, 'ns');
  await log.ensureTopic(broker.topics[0]!, { partitions: 3, replicationFactor: 1 });
  return broker;
}

export async function startTestIngress(
  t: After,
  log: EventLog,
  options: { config?: Partial<IngressConfig>; resources?: Resource[]; publish?: boolean; now?: () => Date; fastPosts?: boolean } = {},
): Promise<TestIngress> {
  const brokers = options.resources ?? [await uniqueBroker(log)];
  const contracts = new InProcessContractSource();
  let generation = 1;
  if (options.publish !== false) contracts.publish(makeContract(brokers, generation));
  const config = ingressConfigSchema.parse({ host: '127.0.0.1', port: 0, ...options.config });
  const ingress = await startIngress({
    config, log, contracts, logger: silentLogger(),
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.fastPosts === undefined ? {} : { fastPosts: options.fastPosts }),
  });
  t.after(() => ingress.close());
  const first = brokers[0]!;
  return {
    ingress,
    contracts,
    log,
    brokers,
    path: first.ingress!.path,
    topic: first.topics[0]!,
    publish: (resources) => contracts.publish(makeContract(resources, ++generation)),
    post: (path, headers, body) => send(ingress.url, 'POST', path, headers, body),
  };
}

export async function send(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<Reply> {
  const response = await request(`${base}${path}`, { method: method as 'POST', headers, body });
  const text = await response.body.text();
  return {
    status: response.statusCode,
    headers: response.headers,
    body: text,
    json: () => JSON.parse(text) as Record<string, unknown>,
  };
}

/** Every record on a topic, in partition then offset order. */
export async function readAll(log: EventLog, topic: string): Promise<{ key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer> }[]> {
  const out: { key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer> }[] = [];
  for await (const record of log.read(topic)) out.push({ key: record.key, value: record.value, headers: { ...record.headers } });
  return out;
}

export const ceHeaders = (overrides: Record<string, string> = {}): Record<string, string> => ({
  'ce-specversion': '1.0',
  'ce-id': uniqueName('id'),
  'ce-source': '/test/producer',
  'ce-type': 'test.ingress',
  'content-type': 'application/json',
  ...overrides,
});

export { brokerTopic };
