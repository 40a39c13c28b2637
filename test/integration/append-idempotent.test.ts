/**
 * Issue 19: a produce request retried after its answer was lost writes once. The fault is made
 * in the client's own sockets (kafkajs's socketFactory) against the team Kafka: the first Produce
 * request goes out whole, Kafka writes it and answers, and the connection is cut as the answer
 * arrives, so kafkajs cannot know the write landed and sends the same batch again.
 *
 * A plain (non-idempotent) kafkajs producer under the same cut writes the record twice: the
 * control shows the cut really forces a resend.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { Kafka, logLevel, Partitioners, type ISocketFactory } from 'kafkajs';
import { KafkaAdmin } from '../../core/event-log/kafka/admin.js';
import { kafkajsProducers, KafkaAppender } from '../../core/event-log/kafka/producer.js';
import { kafkaBootstrapServers, kafkaEventLog } from '../helpers/kafka.js';
import { uniqueName } from '../helpers/wait.js';

const PRODUCE = 0; // Kafka API key of a Produce request

/** Sockets that cut the connection carrying the first Produce request when its answer arrives. */
function cutFirstProduceAnswer(): { factory: ISocketFactory; cuts: () => number } {
  let armed = true;
  let cuts = 0;
  const factory: ISocketFactory = ({ host, port, onConnect }) => {
    const socket = net.connect({ host, port }, onConnect);
    let produceSent = false;
    const write = socket.write.bind(socket) as (chunk: unknown, ...rest: unknown[]) => boolean;
    socket.write = ((chunk: unknown, ...rest: unknown[]) => {
      // A request: size (int32), then its API key (int16).
      if (armed && Buffer.isBuffer(chunk) && chunk.length >= 6 && chunk.readInt16BE(4) === PRODUCE) produceSent = true;
      return write(chunk, ...rest);
    }) as typeof socket.write;
    const emit = socket.emit.bind(socket) as (event: string | symbol, ...args: unknown[]) => boolean;
    socket.emit = ((event: string | symbol, ...args: unknown[]) => {
      if (event === 'data' && produceSent && armed) {
        armed = false;
        cuts++;
        // With an error, as a reset connection: kafkajs listens for errors, not for 'close'.
        socket.destroy(new Error('connection cut by the test before the answer'));
        return true;
      }
      return emit(event, ...args);
    }) as typeof socket.emit;
    return socket;
  };
  return { factory, cuts: () => cuts };
}

function client(socketFactory: ISocketFactory): Kafka {
  return new Kafka({
    clientId: 'append-idempotent',
    brokers: kafkaBootstrapServers(),
    socketFactory,
    requestTimeout: 5000,
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
    logLevel: logLevel.NOTHING,
  });
}

async function valuesOn(log: ReturnType<typeof kafkaEventLog>, topic: string): Promise<string[]> {
  const values: string[] = [];
  for await (const record of log.read(topic)) values.push(record.value?.toString('utf8') ?? '');
  return values;
}

test('an append whose answer was lost is retried and written once (idempotent produce)', { timeout: 60_000 }, async (t) => {
  const log = kafkaEventLog(t, 'append-idempotent');
  const topic = uniqueName('idempotent');
  await log.ensureTopic(topic, { partitions: 1, replicationFactor: 1 });
  const cut = cutFirstProduceAnswer();
  const kafka = client(cut.factory);
  const admin = new KafkaAdmin(kafka);
  const appender = new KafkaAppender(kafkajsProducers(kafka), admin, { appendTimeoutMs: 20_000, maxInFlightBatches: 1 });
  t.after(async () => {
    await appender.close();
    await admin.close();
  });

  const [result] = await appender.append(topic, [{ value: Buffer.from('once') }]);
  assert.equal(cut.cuts(), 1, 'the first answer was cut');
  assert.deepEqual(result, { partition: 0, offset: '0' }, 'the retry is answered with the first write’s offset');
  assert.deepEqual(await valuesOn(log, topic), ['once']);

  // The producer goes on numbering correctly after the retry.
  const [next] = await appender.append(topic, [{ value: Buffer.from('next') }]);
  assert.deepEqual(next, { partition: 0, offset: '1' });
  assert.deepEqual(await valuesOn(log, topic), ['once', 'next']);
});

test('control: a plain producer under the same cut writes the record twice', { timeout: 60_000 }, async (t) => {
  const log = kafkaEventLog(t, 'append-idempotent');
  const topic = uniqueName('plain');
  await log.ensureTopic(topic, { partitions: 1, replicationFactor: 1 });
  const cut = cutFirstProduceAnswer();
  const producer = client(cut.factory).producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  t.after(() => producer.disconnect());
  await producer.send({ topic, acks: -1, messages: [{ partition: 0, value: 'twice' }] });
  assert.equal(cut.cuts(), 1);
  assert.deepEqual(await valuesOn(log, topic), ['twice', 'twice']);
});
