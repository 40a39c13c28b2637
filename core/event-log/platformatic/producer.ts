import { Producer, ProduceAcks } from '@platformatic/kafka';
import { withTimeout } from '../../async.js';
import type { BrokerError } from '../../errors.js';
import type { OutgoingRecord, ProducerFactory } from '../kafka/producer.js';
import { platformaticBaseOptions, type PlatformaticConnection } from './client.js';
import { hasProtocolError, withProtocolType } from './errors.js';
import { writeProduceInOneBuffer } from './produce-request.js';

/**
 * @platformatic/kafka producers for the appender (../kafka/producer.ts, which coalesces appends
 * and chooses partitions). Idempotent: the library numbers each partition's records per producer
 * id and moves the numbers only on success, and its retries are bounded (`retries` in
 * client.ts), so a failed send retires the producer just as with kafkajs. acks=all.
 *
 * The library (1.22) writes a null key or value as an empty one (length 0 rather than -1);
 * the consumer reads an empty key back as null (consumer.ts), so keyless records stay keyless.
 *
 * The library (1.22) does not report every refusal: with a wrong SASL password or an untrusted
 * CA its connection attempt never completes. So connecting is bounded, and a failure is explained
 * by `diagnose` (the kafkajs admin connection, with the same settings): KAFKA_AUTH_FAILED /
 * KAFKA_TLS_FAILED as with kafkajs.
 */
export function platformaticProducers(connection: PlatformaticConnection, diagnose: () => Promise<BrokerError | undefined>): ProducerFactory {
  return {
    topicGone: (error) => hasProtocolError(error, 'UNKNOWN_TOPIC_OR_PARTITION'),
    create: async () => {
      const producer = new Producer({ ...platformaticBaseOptions(connection, 'producer'), idempotent: true, acks: ProduceAcks.ALL });
      // Its Produce requests written in one buffer rather than a dozen per record (produce-request.ts).
      writeProduceInOneBuffer(producer);
      try {
        // Connects and takes a producer id now, so an unreachable Kafka fails here, not mid-send.
        await withTimeout(producer.initIdempotentProducer({}), CONNECT_TIMEOUT_MS);
      } catch (error) {
        // Not awaited: a close during a connection attempt that never completes may not either.
        void producer.close().catch(() => undefined);
        throw (await diagnose()) ?? error;
      }
      return {
        close: () => producer.close(),
        send: async (records: readonly OutgoingRecord[]) => {
          const messages = records.map(({ topic, partition, key, value, headers }) => ({ topic, partition, key: key ?? undefined, value: value ?? undefined, headers: headerMap(headers) }));
          let result: Awaited<ReturnType<typeof producer.send>>;
          try {
            result = await producer.send({ messages });
          } catch (error) {
            throw withProtocolType(error);
          }
          const offsets = new Map<string, bigint>();
          for (const { topic, partition, offset } of result.offsets ?? []) offsets.set(`${topic}\u0000${partition}`, offset);
          return offsets;
        },
      };
    },
  };
}

/** How long connecting and taking a producer id may take: well within an append's own timeout (10 s). */
const CONNECT_TIMEOUT_MS = 5000;

function headerMap(headers: Readonly<Record<string, Buffer>>): Map<Buffer, Buffer> {
  const map = new Map<Buffer, Buffer>();
  for (const name in headers) map.set(headerNameBytes(name), headers[name]!);
  return map;
}

/**
 * Header names encoded once and shared between records (the library only reads them): every
 * record carries the same few (`ce_id`, `ce_source`, `content-type`, ...), and encoding each
 * again was several buffers per event. Bounded: emptied when full.
 */
const headerNames = new Map<string, Buffer>();
const HEADER_NAMES_MAX = 1024;

function headerNameBytes(name: string): Buffer {
  let bytes = headerNames.get(name);
  if (bytes === undefined) {
    if (headerNames.size >= HEADER_NAMES_MAX) headerNames.clear();
    bytes = Buffer.from(name, 'utf8');
    headerNames.set(name, bytes);
  }
  return bytes;
}
