import type { CloudEvent } from '../core/cloudevents/event.js';
import { fromKafkaRecord, toKafkaRecord, type KafkaDecodeResult, type KafkaRecordIn } from '../core/cloudevents/kafka-binding.js';
import { BrokerError, isBrokerError } from '../core/errors.js';
import type { Resource } from '../core/contract/types.js';
import type { ConsumedRecord, EventLog } from '../core/event-log/port.js';
import { ERROR_BROKER, ERROR_DEST, ERROR_SUBSCRIPTION, ERROR_TRIGGER } from './error-extensions.js';
import type { DeadLetter } from './dead-letters/types.js';

/**
 * The quarantine: where an undecodable record (undecodable.ts) goes when its egress has no
 * dead-letter sink, or the sink will not take it. Kept in the event log itself, as the replay
 * records are, so that it survives restarts on Kafka and needs nothing else:
 *
 *   topic   knative-kafka-broker-quarantine (dispatcher setting `quarantineTopic`), 1 partition,
 *           created on first use
 *   record  the `dev.knative.kafka.broker.undecodable` CloudEvent, Kafka binary binding
 *
 * `dead-letters list` and the page show its records next to the KafkaSinks' dead letters, under
 * the pseudo sink `QUARANTINE_SINK` (readQuarantined). An operator reads the raw record there
 * (key, headers, value, the decode error) and deletes the topic's records when done with them.
 */
export const QUARANTINE_TOPIC = 'knative-kafka-broker-quarantine';
/** How quarantined records are listed among dead letters: `<namespace>/<name>` of no real KafkaSink. */
export const QUARANTINE_SINK = { namespace: 'knative-eventing', name: 'quarantine' } as const;

export interface QuarantineOptions {
  readonly topic?: string;
  /** Replication factor of the topic when it is created. */
  readonly replicationFactor?: number;
}

/** Writes to the quarantine topic; the topic is created on first use. */
export class Quarantine {
  readonly topic: string;
  private readonly replicationFactor: number;
  private ensured: Promise<void> | undefined;

  constructor(
    private readonly log: EventLog,
    options: QuarantineOptions = {},
  ) {
    this.topic = options.topic ?? QUARANTINE_TOPIC;
    this.replicationFactor = options.replicationFactor ?? 1;
  }

  /** Appends the event; resolves once it is durable, rejects with the log's error. */
  async put(event: CloudEvent): Promise<void> {
    await this.ensure();
    await this.log.append(this.topic, [toKafkaRecord(event, 'binary')]);
  }

  private ensure(): Promise<void> {
    this.ensured ??= this.log.ensureTopic(this.topic, { partitions: 1, replicationFactor: this.replicationFactor }).catch((error: unknown) => {
      this.ensured = undefined; // try again next time (Kafka may be back)
      throw error;
    });
    return this.ensured;
  }
}

/** A quarantined record as read back: the event, and where it sits. */
export interface Quarantined {
  readonly event: CloudEvent;
  readonly record: Omit<ConsumedRecord, 'done'>;
}

/**
 * Every quarantined event, oldest first; none when the topic does not exist (nothing was ever
 * quarantined). A record of the topic that does not decode is skipped: whatever wrote it was not us.
 */
export async function readQuarantined(log: EventLog, topic: string = QUARANTINE_TOPIC): Promise<Quarantined[]> {
  if ((await log.describeTopic(topic)) === undefined) return [];
  const found: Quarantined[] = [];
  try {
    for await (const record of log.read(topic)) {
      const decoded = decodeSafely(record);
      if (decoded.ok) found.push({ event: decoded.event, record });
    }
  } catch (error) {
    if (isBrokerError(error) && error.code === 'TOPIC_NOT_FOUND') return [];
    throw error;
  }
  return found;
}

// ---- listing among dead letters (the hook in dead-letters.ts)

/** A quarantined record in the shape of a listed dead letter. */
export interface QuarantinedEntry {
  readonly view: DeadLetter;
  readonly event: CloudEvent;
  readonly timestamp: number;
  /** A stand-in for the sink resource, for replays `--to <url>`. */
  readonly sinkResource: Resource;
}

/** The quarantine's events as dead letters of the pseudo sink QUARANTINE_SINK. */
export async function quarantinedEntries(log: EventLog, topic: string = QUARANTINE_TOPIC): Promise<QuarantinedEntry[]> {
  return (await readQuarantined(log, topic)).map(({ event, record }) => quarantinedEntry(event, record, topic));
}

/** The pseudo sink resource quarantined records are listed under. */
function quarantineResource(topic: string): Resource {
  const { namespace, name } = QUARANTINE_SINK;
  return {
    uid: `quarantine-${topic}`, kind: 'KafkaSink', reference: { kind: 'KafkaSink', namespace, name, uid: `quarantine-${topic}` },
    topics: [topic], ingress: null, egressConfig: null, egresses: [],
  };
}

/** One quarantined record as a dead letter of the pseudo sink QUARANTINE_SINK. */
export function quarantinedEntry(event: CloudEvent, record: Omit<ConsumedRecord, 'done'>, topic: string): QuarantinedEntry {
  const { namespace, name } = QUARANTINE_SINK;
  const sinkResource = quarantineResource(topic);
  const a = event.attributes;
  const text = (attribute: string): string | null => (Object.hasOwn(a, attribute) ? String(a[attribute]) : null);
  const view: DeadLetter = {
    ref: `${namespace}/${name}/${record.partition}/${record.offset}`,
    id: text('id') ?? '',
    type: text('type') ?? '',
    source: text('source') ?? '',
    sink: { namespace, name, topic },
    partition: record.partition,
    offset: record.offset,
    deadLetteredAt: new Date(record.timestamp).toISOString(),
    failedFor: failedForOf(text(ERROR_TRIGGER), text(ERROR_SUBSCRIPTION)),
    broker: text(ERROR_BROKER),
    errorDest: text(ERROR_DEST) ?? '',
    errorCode: null,
    replay: null,
  };
  return { view, event, timestamp: record.timestamp, sinkResource };
}

function failedForOf(trigger: string | null, subscription: string | null): DeadLetter['failedFor'] {
  for (const [kind, value] of [['Trigger', trigger], ['Subscription', subscription]] as const) {
    const [namespace, name, ...rest] = (value ?? '').split('/');
    if (namespace && name && rest.length === 0) return { kind, namespace, name };
  }
  return null;
}

/** fromKafkaRecord that reports an exception as a failed decode: for readers of whole topics. */
export function decodeSafely(record: KafkaRecordIn): KafkaDecodeResult {
  try {
    return fromKafkaRecord(record);
  } catch (error) {
    return { ok: false, error: new BrokerError('INTERNAL', `decoding the record threw: ${error instanceof Error ? error.message : String(error)}`) };
  }
}
