import type { CloudEvent } from '../core/cloudevents/event.js';
import type { Egress, Resource } from '../core/contract/types.js';
import { BrokerError, isBrokerError } from '../core/errors.js';
import type { ConsumedRecord } from '../core/event-log/port.js';
import { ERROR_BROKER, ERROR_DEST, ERROR_SUBSCRIPTION, ERROR_TRIGGER } from './error-extensions.js';

/**
 * A record that cannot be decoded into a CloudEvent (another producer wrote to the topic, or a
 * bug in decoding) is never delivered and never dropped: it is wrapped, whole, in a CloudEvent of
 * our own and sent where an operator sees it — the egress's dead-letter sink, or else the
 * quarantine topic (quarantine.ts) — and its offset is then done.
 *
 *   type            dev.knative.kafka.broker.undecodable
 *   id              `<topic>/<partition>/<offset>`: the same for every trigger, and after a redelivery
 *   source          /kafka-broker/topics/<topic>
 *   time            the record's timestamp
 *   datacontenttype application/json; data is UndecodableData below (bytes as base64)
 *   knativeerrordest, knativeerrortrigger | knativeerrorsubscription, knativeerrorbroker
 *                   as on any dead letter, so that `dead-letters list` shows what it failed for
 */
export const UNDECODABLE_TYPE = 'dev.knative.kafka.broker.undecodable';

export interface UndecodableData {
  readonly error: { readonly code: string; readonly message: string };
  readonly record: {
    readonly topic: string;
    readonly partition: number;
    readonly offset: string;
    /** RFC 3339. */
    readonly timestamp: string;
    /** base64; null when the record has none. */
    readonly key: string | null;
    /** In the record's order; values base64. A list, since names come from the producer. */
    readonly headers: readonly { readonly name: string; readonly value: string }[];
    readonly value: string | null;
  };
}

/** An exception thrown while decoding or handling a record, as the error the wrapper carries. */
export function handlingErrorOf(error: unknown, doing: string): BrokerError {
  if (isBrokerError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new BrokerError('INTERNAL', `${doing} threw: ${message}`, { cause: error });
}

export function undecodableEvent(record: ConsumedRecord, error: BrokerError, resource: Resource, egress: Egress): CloudEvent {
  const data: UndecodableData = {
    error: { code: error.code, message: error.message },
    record: {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      timestamp: isoTime(record.timestamp),
      key: safely(() => base64Of(record.key), null),
      headers: safely(() => Object.keys(record.headers).map((name) => ({ name, value: base64Of(record.headers[name]) ?? '' })), []),
      value: safely(() => base64Of(record.value), null),
    },
  };
  const attributes: Record<string, string> = {
    specversion: '1.0',
    id: `${record.topic}/${record.partition}/${record.offset}`,
    source: `/kafka-broker/topics/${encodeURIComponent(record.topic)}`,
    type: UNDECODABLE_TYPE,
    time: isoTime(record.timestamp),
    datacontenttype: 'application/json',
    [ERROR_DEST]: egress.destination,
    [ERROR_BROKER]: `${resource.reference.namespace}/${resource.reference.name}`,
  };
  const egressRef = `${egress.reference.namespace}/${egress.reference.name}`;
  if (egress.reference.kind === 'Trigger') attributes[ERROR_TRIGGER] = egressRef;
  else if (egress.reference.kind === 'Subscription') attributes[ERROR_SUBSCRIPTION] = egressRef;
  return { attributes, data: Buffer.from(JSON.stringify(data), 'utf8') };
}

/**
 * The wrapper must be built whatever the record holds (it is how a broken record is reported):
 * a part that cannot be read is left out rather than failing the whole.
 */
function safely<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}

function base64Of(bytes: Buffer | string | null | undefined): string | null {
  if (bytes === null || bytes === undefined) return null;
  return (typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes)).toString('base64');
}

function isoTime(timestamp: number): string {
  const date = new Date(Number.isFinite(timestamp) ? timestamp : 0);
  return Number.isNaN(date.getTime()) ? new Date(0).toISOString() : date.toISOString();
}
