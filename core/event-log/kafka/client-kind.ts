/**
 * Which Kafka client library the Kafka event log's appends and consumer groups run on. Both pass
 * the same contract suite; `platformatic` is the default because it spends less CPU per record
 * (test/bench/kafka-client.bench.ts: about 0.25× on appends, 0.5× on consuming, with the
 * request writing and response reading of produce-request.ts and fetch-response.ts).
 */
export const kafkaClientKinds = ['kafkajs', 'platformatic'] as const;
export type KafkaClientKind = (typeof kafkaClientKinds)[number];
export const DEFAULT_KAFKA_CLIENT: KafkaClientKind = 'platformatic';

/** A setting's text as a client kind; undefined when it names none. */
export function parseKafkaClientKind(text: string): KafkaClientKind | undefined {
  return kafkaClientKinds.find((kind) => kind === text.trim().toLowerCase());
}
