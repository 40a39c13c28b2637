// Checks that kafkajs 2.2.4 still speaks to the Kafka we run (4.x removed the
// old protocol versions, KIP-896) for every operation the broker relies on.
// Needs KAFKA_BOOTSTRAP_SERVERS (the test setup, or `npm run kafka`, provides it).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin, type Consumer, type EachMessagePayload } from 'kafkajs';

import { kafkaBootstrapServers, testWriter } from '../helpers/kafka.js';

const PARTITIONS = 3;

describe('kafkajs against the project Kafka', { timeout: 120_000 }, () => {
  const run = randomUUID().slice(0, 8);
  const topic = `compat-${run}`;
  const groupId = `compat-group-${run}`;
  let kafka: Kafka;
  let admin: Admin;

  before(async () => {
    kafka = new Kafka({
      clientId: `kafka-compat-${run}`,
      brokers: kafkaBootstrapServers(),
      // kafkajs logs retried, expected errors (e.g. REBALANCE_IN_PROGRESS) at ERROR;
      // real failures surface as rejected calls, or as crashes reported by waitFor.
      logLevel: logLevel.NOTHING,
      retry: { retries: 5, initialRetryTime: 100 },
    });
    admin = kafka.admin();
    await admin.connect();
  });

  after(async () => {
    if (!admin) return;
    // Best effort, for when a test failed before the deleteTopics test ran.
    if ((await admin.listTopics().catch((): string[] => [])).includes(topic)) {
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    }
    await admin.disconnect();
  });

  test('admin createTopics / listTopics / fetchTopicMetadata', async () => {
    const created = await admin.createTopics({
      topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }],
      waitForLeaders: true,
    });
    assert.equal(created, true);
    assert.ok((await admin.listTopics()).includes(topic));
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    assert.equal(topics[0]?.partitions.length, PARTITIONS);
  });

  test('producer with acks=-1 and idempotent producer; fetchTopicOffsets sees the writes', async () => {
    const plain = kafka.producer();
    const idempotent = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await Promise.all([plain.connect(), idempotent.connect()]);
    const plainHigh = new Map<number, number>();
    try {
      for (let partition = 0; partition < PARTITIONS; partition++) {
        const [result] = await plain.send({
          topic,
          acks: -1,
          messages: [{ partition, key: `k${partition}`, value: `acks-all-${partition}` }],
        });
        assert.equal(result?.errorCode, 0);
      }
      // A plain producer retries a send whose answer it did not get (a timeout on a busy machine)
      // and may so write a record twice: it promises at least once. The idempotent one, once.
      for (const o of await admin.fetchTopicOffsets(topic)) plainHigh.set(o.partition, Number(o.high));
      assert.ok([...plainHigh.values()].every((high) => high >= 1), "every partition holds the plain producer's record");
      // acks must be -1 for an idempotent producer; kafkajs enforces that itself.
      const results = await idempotent.send({
        topic,
        acks: -1,
        messages: Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, value: `idempotent-${partition}` })),
      });
      assert.ok(results.every((r) => r.errorCode === 0));
    } finally {
      await Promise.all([plain.disconnect(), idempotent.disconnect()]);
    }

    const offsets = await admin.fetchTopicOffsets(topic);
    assert.equal(offsets.length, PARTITIONS);
    for (const o of offsets) {
      assert.equal(o.low, '0');
      assert.equal(Number(o.high) - plainHigh.get(o.partition)!, 1, `partition ${o.partition} should hold one idempotent record more`);
    }
  });

  test('two consumers of one group rebalance, consume and commit; admin reads and manages the group', async () => {
    const received = new Map<string, string>(); // value -> member name
    const assignments = new Map<string, number[]>();
    const consumers: Consumer[] = [];
    const crashes: string[] = [];

    const startMember = async (name: string): Promise<Consumer> => {
      // kafkajs heartbeats between fetches, so a short fetch wait makes rebalances quick.
      const consumer = kafka.consumer({
        groupId,
        sessionTimeout: 10_000,
        heartbeatInterval: 500,
        rebalanceTimeout: 20_000,
        maxWaitTimeInMs: 500,
      });
      consumers.push(consumer);
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        assignments.set(name, payload.memberAssignment[topic] ?? []);
      });
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        crashes.push(`member ${name}: ${payload.error.message} (restart: ${payload.restart})`);
      });
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ topic: t, partition, message }: EachMessagePayload) => {
          received.set(message.value!.toString(), name);
          await consumer.commitOffsets([{ topic: t, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
        },
      });
      return consumer;
    };

    try {
      await startMember('a');
      await waitFor('member a to read the existing records', () => received.size === 2 * PARTITIONS, crashes);
      assert.deepEqual([...(assignments.get('a') ?? [])].sort(), [0, 1, 2]);

      await startMember('b');
      await waitFor('the group to rebalance across both members', () => {
        const a = assignments.get('a') ?? [];
        const b = assignments.get('b') ?? [];
        return a.length > 0 && b.length > 0 && a.length + b.length === PARTITIONS;
      }, crashes);

      const producer = testWriter(kafka);
      await producer.connect();
      await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, value: `after-rebalance-${partition}` })),
      });
      await producer.disconnect();
      await waitFor('both members to read the new records', () => received.size === 3 * PARTITIONS, crashes);
      const readers = new Set([...received].filter(([value]) => value.startsWith('after-rebalance-')).map(([, member]) => member));
      assert.deepEqual([...readers].sort(), ['a', 'b']);

      const described = await admin.describeGroups([groupId]);
      const group = described.groups[0];
      assert.equal(group?.state, 'Stable');
      assert.equal(group?.members.length, 2);
    } finally {
      await Promise.all(consumers.map((c) => c.disconnect()));
    }

    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    assert.equal(committed?.topic, topic);
    // Every record read and committed: each partition's end (3, or more if the plain producer above wrote twice).
    const ends = (await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, o.high]);
    assert.deepEqual(committed?.partitions.map((p) => [p.partition, p.offset]).sort(), ends.sort());
    assert.ok(ends.every(([, high]) => Number(high) >= 3));

    // setOffsets needs the group to be empty, which the disconnects above ensure.
    await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '1' }] });
    const [reset] = await admin.fetchOffsets({ groupId, topics: [topic] });
    assert.equal(reset?.partitions.find((p) => p.partition === 0)?.offset, '1');

    const deleted = await admin.deleteGroups([groupId]);
    assert.equal(deleted[0]?.errorCode, 0);
    const afterDelete = await admin.describeGroups([groupId]);
    assert.equal(afterDelete.groups[0]?.state, 'Dead');
  });

  test('admin deleteTopics', async () => {
    await admin.deleteTopics({ topics: [topic], timeout: 10_000 });
    await waitFor('the topic to disappear', async () => !(await admin.listTopics()).includes(topic));
  });
});

async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  crashes: string[] = [],
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      assert.fail(`timed out waiting for ${what}${crashes.length ? `; consumer crashes: ${crashes.join('; ')}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
