import type { CloudEvent } from '../core/cloudevents/event.js';
import { toKafkaRecord } from '../core/cloudevents/kafka-binding.js';
import { BrokerError, isBrokerError } from '../core/errors.js';
import type { EventLogClusters } from '../core/event-log/clusters.js';
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
 */
export class Appender {
  private inFlight = 0;

  constructor(
    private readonly logs: EventLogClusters,
    private readonly maxInFlightEvents: number,
  ) {}

  /** Events accepted and not yet durable (for metrics and tests). */
  get inFlightEvents(): number {
    return this.inFlight;
  }

  async append(entry: IngressEntry, events: readonly CloudEvent[]): Promise<void> {
    if (events.length === 0) return;
    if (this.inFlight + events.length > this.maxInFlightEvents) {
      throw new BrokerError('LOG_UNAVAILABLE', `too many events waiting for the log (${this.inFlight}); try again shortly`, {
        details: { topic: entry.topic, inFlightEvents: this.inFlight },
      });
    }
    const records = events.length === 1
      ? [toKafkaRecord(events[0]!, entry.contentMode)]
      : events.map((event) => toKafkaRecord(event, entry.contentMode));
    this.inFlight += events.length;
    try {
      // The process's log unless the resource names a cluster of its own (one Map lookup then).
      await this.logs.get(entry.cluster).append(entry.topic, records);
    } catch (error) {
      throw asLogError(error, entry.topic);
    } finally {
      this.inFlight -= events.length;
    }
  }
}

/** Whatever the log threw, as a 503 the producer can retry. */
function asLogError(error: unknown, topic: string): BrokerError {
  if (isBrokerError(error) && (error.code === 'LOG_UNAVAILABLE' || error.code === 'TOPIC_NOT_FOUND' || error.code === 'KAFKA_AUTH_INVALID')) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new BrokerError('LOG_UNAVAILABLE', `the event log did not take the write: ${message}`, { details: { topic }, cause: error });
}
