import assert from 'node:assert/strict';
import { decodeHttp } from '../../core/cloudevents/http-binding.js';
import type { CloudEvent } from '../../core/cloudevents/event.js';
import { startRecordingServer, type RecordingServer } from '../helpers/http.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';
import {
  brokerManifest, manifestsFolder, readyOf, runCli, startBroker, triggerManifest,
  type BrokerProcess, type CliResult, type KnList, type ManifestsFolder,
} from './start-cli.js';

/**
 * The scene of the dead-letter scenarios, through `kafka-broker start` on one log:
 *
 *   test ──1 POST /<ns>/default──▶ ingress ──▶ broker topic ──▶ dispatcher ──2──▶ subscriber /pay (500)
 *                                                                  │ 3 retries exhausted
 *                                                                  ▼
 *        ingress /sinks/<ns>/dls ◀──4 dead letter (knativeerror*)──┘
 *          └──▶ KafkaSink topic ◀──5 read── admin /dead-letters ◀── CLI / page ──6 replay──▶ /pay
 *
 * Two KafkaSinks: `dls`, the trigger's dead-letter sink (a `ref`), and `empty`, which stays empty.
 */

export interface LogKind {
  readonly name: 'memory' | 'kafka';
  readonly env: Record<string, string | undefined>;
  readonly timeoutMs: number;
}

const kafkaServers = process.env['KAFKA_BOOTSTRAP_SERVERS'];

export const logKinds: readonly LogKind[] = [
  // The in-memory log is quick, but each `get` the waits run is a node process: seconds apiece on a busy CI machine.
  { name: 'memory', env: { KAFKA_BOOTSTRAP_SERVERS: '' }, timeoutMs: 60_000 },
  { name: 'kafka', env: { KAFKA_BOOTSTRAP_SERVERS: kafkaServers }, timeoutMs: 90_000 },
];

type After = { after(fn: () => unknown): void };

export interface DeadLetterWorld {
  readonly ns: string;
  readonly broker: BrokerProcess;
  readonly folder: ManifestsFolder;
  readonly subscriber: RecordingServer;
  /** Whether the subscriber answers 500 (with a JSON error body) or 200. */
  failing: boolean;
  /** POSTs a payment event to the broker; resolves once it is accepted (202). */
  send(id: string): Promise<void>;
  /** `kafka-broker dead-letters <args> --server <admin>`. */
  deadLetters(...args: string[]): Promise<CliResult>;
  /** The events the subscriber received at /pay. */
  received(): CloudEvent[];
  readonly wait: { readonly timeoutMs: number; readonly intervalMs: number };
}

export async function deadLetterWorld(t: After, kind: LogKind): Promise<DeadLetterWorld> {
  if (kind.name === 'kafka' && !kafkaServers) throw new Error('KAFKA_BOOTSTRAP_SERVERS is not set: run with `npm test`, or start Kafka with `npm run kafka`');
  // A namespace (and so topics) per run: on a shared Kafka nothing meets another run's.
  const ns = uniqueName(`dl-${kind.name}`);
  const wait = { timeoutMs: kind.timeoutMs, intervalMs: 100 };
  const folder = await manifestsFolder(t);
  const subscriber = await startRecordingServer();
  t.after(() => subscriber.close());
  const world = { failing: true };
  subscriber.respond((_request, response) => {
    response.statusCode = world.failing ? 500 : 200;
    response.setHeader('content-type', 'application/json');
    response.end(world.failing ? '{"error":"payments are down"}' : '');
  });
  // On Kafka a KafkaSink must name the cluster the broker writes to.
  const bootstrapServers = kind.name === 'kafka' ? kafkaServers!.split(',') : ['my-cluster-kafka-bootstrap.kafka:9092'];
  const sink = (name: string): object => ({
    apiVersion: 'eventing.knative.dev/v1alpha1',
    kind: 'KafkaSink',
    metadata: { name, namespace: ns },
    spec: { topic: `${ns}-${name}`, numPartitions: 2, replicationFactor: 1, bootstrapServers },
  });
  await folder.write('sinks.yaml', [sink('dls'), sink('empty')]);
  await folder.write('broker.yaml', [brokerManifest(ns, 'default')]);
  await folder.write('trigger.yaml', [triggerManifest(ns, 'payments', {
    filters: [{ exact: { type: 'com.example.payment' } }],
    subscriber: { uri: `${subscriber.url}/pay` },
    delivery: {
      retry: 1, backoffPolicy: 'linear', backoffDelay: 'PT0.05S',
      deadLetterSink: { ref: { apiVersion: 'eventing.knative.dev/v1alpha1', kind: 'KafkaSink', name: 'dls' } },
    },
  })]);
  const broker = await startBroker(t, { manifests: folder.dir, env: kind.env });
  // Removing the manifests deletes the topics the controller created (a shared Kafka stays tidy).
  t.after(async () => {
    if (broker.child.exitCode !== null) return;
    for (const file of ['trigger.yaml', 'broker.yaml', 'sinks.yaml']) await folder.remove(file).catch(() => undefined);
    await waitUntil(async () => ((await broker.get('kafkasinks', '-n', ns, '-o', 'json')).stdout.match(/"kind": "KafkaSink"/g) ?? []).length === 0, { ...wait, message: 'the sinks gone' }).catch(() => undefined);
  });
  const ready = async (kindName: string, names: readonly string[]): Promise<boolean> => {
    const list = JSON.parse((await broker.get(kindName, '-n', ns, '-o', 'json')).stdout) as KnList;
    return names.every((n) => readyOf(list.items.find((i) => i.metadata.name === n))?.status === 'True');
  };
  await waitUntil(async () => (await ready('kafkasinks', ['dls', 'empty'])) && (await ready('triggers', ['payments'])), { ...wait, message: 'the sinks and the trigger Ready' });

  return Object.assign(world, {
    ns, broker, folder, subscriber, wait,
    send: async (id: string) => {
      const response = await fetch(`${broker.ingressUrl}/${ns}/default`, {
        method: 'POST',
        headers: { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/shop', 'ce-type': 'com.example.payment', 'content-type': 'application/json' },
        body: JSON.stringify({ order: id, amount: 42 }),
      });
      assert.equal(response.status, 202, await response.text());
    },
    deadLetters: (...args: string[]) => runCli(['dead-letters', ...args, '--server', broker.adminUrl]),
    received: () => subscriber.requests.filter((r) => r.url === '/pay' && r.body.length > 0).flatMap((r) => {
      const decoded = decodeHttp(r.headers as Record<string, string>, r.body);
      return decoded.ok ? decoded.events : [];
    }),
  });
}
