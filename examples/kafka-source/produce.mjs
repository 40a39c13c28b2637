// A plain Kafka producer, standing in for a system that knows nothing of CloudEvents: creates the
// topic if needed and writes JSON orders to it, keyed by customer, with a header of its own.
//
//   node examples/kafka-source/produce.mjs [count]     (default 3)
//
// Kafka: $KAFKA_BOOTSTRAP_SERVERS (default 127.0.0.1:9092); topic: $TOPIC (default legacy-orders).
import { Kafka, logLevel } from 'kafkajs';

const count = Number(process.argv[2] ?? 3);
const brokers = (process.env.KAFKA_BOOTSTRAP_SERVERS || '127.0.0.1:9092').split(',');
const topic = process.env.TOPIC || 'legacy-orders';
if (!Number.isInteger(count) || count < 1) {
  console.error(`produce: count must be a positive integer, got ${process.argv[2]}`);
  process.exit(1);
}

const kafka = new Kafka({ clientId: 'legacy-orders-producer', brokers, logLevel: logLevel.NOTHING });
const admin = kafka.admin();
const producer = kafka.producer();
try {
  await admin.connect();
  // false when it already exists: that is fine.
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
  await producer.connect();
  const messages = Array.from({ length: count }, (_, i) => ({
    key: `customer-${i + 1}`,
    value: JSON.stringify({ order: i + 1, amount: 100 * (i + 1) }),
    headers: { 'content-type': 'application/json', 'x-system': 'legacy-shop' },
  }));
  await producer.send({ topic, messages });
  console.log(`produced ${count} record(s) to ${topic} at ${brokers.join(',')}`);
} catch (error) {
  console.error(`produce: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await producer.disconnect().catch(() => undefined);
  await admin.disconnect().catch(() => undefined);
}
