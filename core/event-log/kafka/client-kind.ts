/**
 * Which Kafka client library the Kafka event log runs on. Both pass the same contract suite;
 * `platformatic` spends less CPU per record (test/bench/kafka-client.bench.ts).
 */
export const kafkaClientKinds = ['kafkajs', 'platformatic'] as const;
export type KafkaClientKind = (typeof kafkaClientKinds)[number];
export const DEFAULT_KAFKA_CLIENT: KafkaClientKind = 'kafkajs';

/** A setting's text as a client kind; undefined when it names none. */
export function parseKafkaClientKind(text: string): KafkaClientKind | undefined {
  return kafkaClientKinds.find((kind) => kind === text.trim().toLowerCase());
}
