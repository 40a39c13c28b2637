import type { CloudEvent } from '../core/cloudevents/event.js';
import { toKafkaRecord } from '../core/cloudevents/kafka-binding.js';
import { BrokerError, isBrokerError } from '../core/errors.js';
import { tooLargeFor } from '../core/event-log/kafka/errors.js';
import type { EventLogClusters } from '../core/event-log/clusters.js';
import type { AppendRecord, EventLog } from '../core/event-log/port.js';
import { traceHeadersOfEvent, type TraceHeaders } from '../core/trace-context.js';
import type { IngressEntry } from './ingress-table.js';

/**
 * The durability point. Encodes events with the Kafka binding and resolves only once the log
 * says they are durable (Kafka: acks=all); any failure is a LOG_UNAVAILABLE or TOPIC_NOT_FOUND
 * (503) and nothing is acknowledged. Concurrent appends are coalesced into one produce request
 * by the Kafka adapter (core/event-log/kafka/producer.ts), so throughput grows with concurrency.
 *
 * One request's events go to the log in one append call. A failed append may still have written
 * some records (Kafka has no atomic multi-partition write without transactions): the producer
 * gets 503, retries, and the log holds the event at least once — never a 202 for a lost one.
 *
 * What can never be taken is a 413, not a 503 a producer would retry forever: a batch with more
 * events than the in-flight bound, and an event larger than the topic's largest record.
 */
/** Hears how each append went (for metrics): its events, how long it took, and the status the producer gets. */
export interface AppendObserver {
  appended(entry: IngressEntry, events: readonly CloudEvent[], ms: number, status: number): void;
}

export interface AppendLimits {
  readonly maxInFlightEvents: number;
  readonly maxRecordBytes: number;
}

export class Appender {
  private inFlight = 0;

  constructor(
    private readonly logs: EventLogClusters,
    private readonly limits: AppendLimits,
    private readonly observer?: AppendObserver,
  ) {}

  /** Events accepted and not yet durable (for metrics and tests). */
  get inFlightEvents(): number {
    return this.inFlight;
  }

  /**
   * `trace` is the context the records carry in their `traceparent` / `tracestate` headers: the
   * append span's, or with tracing off the request's; without one, each event's own
   * distributed-tracing extension (docs/tracing.md).
   */
  async append(entry: IngressEntry, events: readonly CloudEvent[], trace?: TraceHeaders): Promise<void> {
    const count = events.length;
    if (count === 0) return;
    // One async frame for the common case, with or without an observer: each level of await
    // costs a promise and a turn of the microtask queue per request.
    const observer = this.observer;
    const started = observer === undefined ? 0 : performance.now();
    let reserved = false;
    try {
      const records = this.recordsOf(entry, events, trace);
      this.inFlight += count;
      reserved = true;
      // The process's log unless the resource names a cluster of its own (one Map lookup then).
      const log = this.logs.get(entry.cluster);
      try {
        await log.append(entry.topic, records);
      } catch (error) {
        await this.retryTooLarge(log, entry.topic, records, error);
      }
      observer?.appended(entry, events, performance.now() - started, 202);
    } catch (error) {
      observer?.appended(entry, events, performance.now() - started, isBrokerError(error) ? error.status : 503);
      throw error;
    } finally {
      if (reserved) this.inFlight -= count;
    }
  }

  /** The records for these events, or the 413 / 503 that says why they cannot be taken now. */
  private recordsOf(entry: IngressEntry, events: readonly CloudEvent[], trace: TraceHeaders | undefined): AppendRecord[] {
    const { maxInFlightEvents, maxRecordBytes } = this.limits;
    if (events.length > maxInFlightEvents) {
      throw new BrokerError('BATCH_TOO_LARGE', `the batch has ${events.length} events, more than the ${maxInFlightEvents} the ingress can hold at once: send it in smaller batches`, {
        details: { events: events.length, maxInFlightEvents },
      });
    }
    if (this.inFlight + events.length > maxInFlightEvents) {
      throw new BrokerError('LOG_UNAVAILABLE', `too many events waiting for the log (${this.inFlight}); try again shortly`, {
        details: { topic: entry.topic, inFlightEvents: this.inFlight },
      });
    }
    const records = events.length === 1
      ? [toKafkaRecord(events[0]!, entry.contentMode, trace ?? traceHeadersOfEvent(events[0]!))]
      : events.map((event) => toKafkaRecord(event, entry.contentMode, trace ?? traceHeadersOfEvent(event)));
    for (let i = 0; i < records.length; i++) {
      const bytes = recordBytes(records[i]!);
      if (bytes > maxRecordBytes) throw eventTooLarge(events.length > 1 ? i : undefined, `its record would be ${bytes} bytes, more than the ${maxRecordBytes} a record may be (maxRecordBytes)`, { bytes, maxRecordBytes });
    }
    return records;
  }

  /**
   * After a failed append: Kafka may have refused a record batch as too large, and the adapter
   * may have sent our records in one batch with other requests' (it coalesces appends), so the
   * verdict may not be about ours: one more try, and a second refusal is our records' own.
   * Anything else is a 503 the producer can retry.
   */
  private async retryTooLarge(log: EventLog, topic: string, records: readonly AppendRecord[], first: unknown): Promise<void> {
    if (tooLargeFor(first) === undefined) throw asLogError(first, topic);
    try {
      await log.append(topic, records);
    } catch (error) {
      const kafkaError = tooLargeFor(error);
      if (kafkaError === undefined) throw asLogError(error, topic);
      throw eventTooLarge(undefined, `Kafka refused it as larger than topic ${topic} takes (${kafkaError}): raise the topic's max.message.bytes or send smaller events`, { topic, kafkaError }, error);
    }
  }
}

/**
 * The bytes a record takes in a Kafka record batch, rounded up: the batch header (61 bytes), the
 * record's fixed fields, and each header's name and value with their length prefixes.
 */
export function recordBytes(record: AppendRecord): number {
  let bytes = 61 + 21 + (record.key?.length ?? 0) + (record.value?.length ?? 0);
  const headers = record.headers;
  if (headers !== undefined) {
    for (const name in headers) bytes += 10 + Buffer.byteLength(name) + headers[name]!.length;
  }
  return bytes;
}

function eventTooLarge(index: number | undefined, reason: string, details: Record<string, unknown>, cause?: unknown): BrokerError {
  const message = index === undefined ? `the event is too large: ${reason}` : `batch event ${index} is too large: ${reason}`;
  return new BrokerError('EVENT_TOO_LARGE', message, { details: index === undefined ? details : { ...details, index }, cause });
}

/** Whatever the log threw, as a 503 the producer can retry. */
function asLogError(error: unknown, topic: string): BrokerError {
  if (isBrokerError(error) && (error.code === 'LOG_UNAVAILABLE' || error.code === 'TOPIC_NOT_FOUND' || error.code === 'KAFKA_AUTH_INVALID')) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new BrokerError('LOG_UNAVAILABLE', `the event log did not take the write: ${message}`, { details: { topic }, cause: error });
}
