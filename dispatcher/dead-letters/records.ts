import { isUtf8 } from 'node:buffer';
import type { AttributeValue, CloudEvent } from '../../core/cloudevents/event.js';
import type { Resource } from '../../core/contract/types.js';
import type { ContractSource } from '../../core/contract/source.js';
import { isBrokerError } from '../../core/errors.js';
import type { ConsumedRecord, EventLog } from '../../core/event-log/port.js';
import { decodeSafely } from '../quarantine.js';
import { ERROR_BROKER, ERROR_CODE, ERROR_DATA, ERROR_DEST, ERROR_SUBSCRIPTION, ERROR_TRIGGER } from '../error-extensions.js';
import { markApplies, markKey, type ReplayMark } from './replay-records.js';
import type { DeadLetter, DeadLetterDetail, FailedFor, ObjectRef, Payload, SinkInfo } from './types.js';

/**
 * What the KafkaSinks hold, read as dead letters. Each sink topic is read from its start with
 * `EventLog.read`, which moves no consumer group (Kafka: a throwaway group that commits nothing).
 * A record is a dead letter when it decodes as a CloudEvent carrying `knativeerrordest`; anything
 * else a sink holds is counted, not listed.
 */

/** A dead letter as read, with what replay needs. */
export interface Entry {
  readonly view: DeadLetter;
  readonly event: CloudEvent;
  readonly timestamp: number;
  readonly sinkResource: Resource;
}

/** The KafkaSinks of the current contract. */
export function sinkResources(contracts: ContractSource): Resource[] {
  return (contracts.current()?.resources ?? []).filter((r) => r.kind === 'KafkaSink' && r.topics[0] !== undefined);
}

export function sinkInfo(resource: Resource): SinkInfo {
  return { namespace: resource.reference.namespace, name: resource.reference.name, topic: resource.topics[0]!, path: resource.ingress?.path ?? '' };
}

/** A topic to list dead letters from: a sink's, or the quarantine's; and how its records read as entries. */
export interface ListedTopic {
  readonly topic: string;
  entryOf(record: Omit<ConsumedRecord, 'done'>): Entry | undefined;
}

export const sinkTopic = (resource: Resource): ListedTopic => {
  const topic = resource.topics[0]!;
  return { topic, entryOf: (record) => entryOf(record, resource, topic) };
};

/**
 * Reads the topics one after another from `cursor` (each partition from its start when the cursor
 * does not name it), one record at a time: a caller that stops early has read no more than it used.
 * A topic that went away with its sink is skipped.
 */
export async function* scanTopics(log: EventLog, topics: readonly ListedTopic[], cursor?: ReadonlyMap<string, ReadonlyMap<number, string>>): AsyncIterable<{ record: Omit<ConsumedRecord, 'done'>; entry: Entry | undefined }> {
  for (const listed of topics) {
    const from = cursor?.get(listed.topic);
    try {
      for await (const record of log.read(listed.topic, from === undefined ? {} : { from })) yield { record, entry: listed.entryOf(record) };
    } catch (error) {
      if (isBrokerError(error) && error.code === 'TOPIC_NOT_FOUND') continue;
      throw error;
    }
  }
}

/** Reads the sinks' topics from the start, in parallel; oldest dead letter first. */
export async function readSinks(log: EventLog, resources: readonly Resource[]): Promise<{ entries: Entry[]; other: number }> {
  const perSink = await Promise.all(resources.map((r) => readSink(log, r)));
  const entries = perSink.flatMap((s) => s.entries).sort(oldestFirst);
  return { entries, other: perSink.reduce((n, s) => n + s.other, 0) };
}

async function readSink(log: EventLog, resource: Resource): Promise<{ entries: Entry[]; other: number }> {
  const topic = resource.topics[0]!;
  const entries: Entry[] = [];
  let other = 0;
  try {
    for await (const record of log.read(topic)) {
      const entry = entryOf(record, resource, topic);
      if (entry === undefined) other++;
      else entries.push(entry);
    }
  } catch (error) {
    // The topic went away with its sink between the contract and the read: nothing to list.
    if (isBrokerError(error) && error.code === 'TOPIC_NOT_FOUND') return { entries: [], other: 0 };
    throw error;
  }
  return { entries, other };
}

/** The dead letter a sink record holds, or undefined when it holds something else. */
function entryOf(record: Omit<ConsumedRecord, 'done'>, resource: Resource, topic: string): Entry | undefined {
  const decoded = decodeSafely(record);
  if (!decoded.ok || decoded.event.attributes[ERROR_DEST] === undefined) return undefined;
  const event = decoded.event;
  const a = event.attributes;
  const { namespace, name } = resource.reference;
  const view: DeadLetter = {
    ref: `${namespace}/${name}/${record.partition}/${record.offset}`,
    id: String(a['id']),
    type: String(a['type']),
    source: String(a['source']),
    ...(a['subject'] === undefined ? {} : { subject: String(a['subject']) }),
    sink: { namespace, name, topic },
    partition: record.partition,
    offset: record.offset,
    deadLetteredAt: new Date(record.timestamp).toISOString(),
    failedFor: failedForOf(event),
    broker: a[ERROR_BROKER] === undefined ? null : String(a[ERROR_BROKER]),
    errorDest: String(a[ERROR_DEST]),
    errorCode: codeOf(a[ERROR_CODE]),
    replay: null,
  };
  return { view, event, timestamp: record.timestamp, sinkResource: resource };
}

/** Oldest first; the ref breaks ties, so the order is the same on every read. */
export function oldestFirst(a: Entry, b: Entry): number {
  return a.timestamp - b.timestamp || compare(a.view.ref, b.view.ref);
}

/**
 * A dead letter's exact name, `<sink namespace>/<sink name>/<partition>/<offset>` (its `ref`), or
 * undefined for an event id.
 */
export function parseRef(id: string): (ObjectRef & { partition: number; offset: string }) | undefined {
  const m = /^([^/]+)\/([^/]+)\/(\d+)\/(\d+)$/.exec(id);
  return m === null ? undefined : { namespace: m[1]!, name: m[2]!, partition: Number(m[3]), offset: m[4]! };
}

function failedForOf(event: CloudEvent): FailedFor | null {
  for (const [kind, attribute] of [['Trigger', ERROR_TRIGGER], ['Subscription', ERROR_SUBSCRIPTION]] as const) {
    const value = event.attributes[attribute];
    if (value === undefined) continue;
    const [namespace, name, ...rest] = String(value).split('/');
    if (namespace && name && rest.length === 0) return { kind, namespace, name };
  }
  return null;
}

function codeOf(value: AttributeValue | undefined): number | null {
  if (value === undefined) return null;
  const n = Number(value);
  return Number.isInteger(n) ? n : null;
}

/** The entry with its latest replay, when the mark under its position was written for it. */
export function withMark(entry: Entry, marks: ReadonlyMap<string, ReplayMark>): Entry {
  const mark = marks.get(markKey(entry.view.sink.topic, entry.view.partition, entry.view.offset));
  const applies = mark !== undefined && markApplies(mark, { eventId: entry.view.id, timestamp: entry.timestamp });
  return applies ? { ...entry, view: { ...entry.view, replay: mark } } : entry;
}

export function detail(entry: Entry): DeadLetterDetail {
  const a = entry.event.attributes;
  const errorData = a[ERROR_DATA] === undefined ? null : decodeErrorData(String(a[ERROR_DATA]));
  const contentType = a['datacontenttype'] === undefined ? undefined : String(a['datacontenttype']);
  return {
    ...entry.view,
    attributes: a,
    data: entry.event.data === undefined ? null : payloadOf(entry.event.data, contentType),
    errorData,
  };
}

/** Text when the bytes are UTF-8 without control characters (and the content type does not say binary). */
export function payloadOf(bytes: Buffer, contentType?: string): Payload {
  const binaryType = contentType !== undefined && !/^(text\/|application\/([\w.+-]*\+)?(json|xml)|application\/x-www-form-urlencoded)/i.test(contentType.trim());
  const readable = !binaryType && isUtf8(bytes) && !hasControlCharacters(bytes);
  return readable ? { encoding: 'text', value: bytes.toString('utf8'), bytes: bytes.length } : { encoding: 'base64', value: bytes.toString('base64'), bytes: bytes.length };
}

/** C0 controls other than tab, line feed and carriage return, and DEL: not text a person reads. */
function hasControlCharacters(bytes: Buffer): boolean {
  for (const b of bytes) if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) || b === 0x7f) return true;
  return false;
}

function decodeErrorData(base64: string): Payload {
  // knativeerrordata is base64 (standard alphabet) of the response body's first 1024 bytes.
  const valid = /^[A-Za-z0-9+/]*={0,2}$/.test(base64) && base64.length % 4 === 0;
  if (!valid) return { encoding: 'text', value: base64, bytes: Buffer.byteLength(base64) };
  return payloadOf(Buffer.from(base64, 'base64'));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
