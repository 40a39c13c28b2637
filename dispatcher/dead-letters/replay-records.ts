import { isBrokerError } from '../../core/errors.js';
import type { AppendRecord, EventLog } from '../../core/event-log/port.js';

/**
 * The replay record: which dead letters have been replayed, kept in the event log itself so that
 * it survives restarts on Kafka and needs nothing else (no database, no file).
 *
 *   topic   knative-kafka-broker-replays, 1 partition, `cleanup.policy=compact`
 *   key     `<sink topic>/<partition>/<offset>` of the dead letter (UTF-8)
 *   value   JSON, one ReplayMark: the latest replay of that dead letter
 *
 * Compaction keeps the latest mark per key, so the topic stays as small as the number of dead
 * letters ever replayed. A mark names the dead letter's event id and record timestamp as well as
 * its position: a sink topic deleted and created again starts its offsets at 0, and a mark is only
 * taken to describe the record it was written for (`markApplies`).
 *
 * A mark is written after the replay's delivery succeeded (or the event was dead-lettered again):
 * an interruption between the two leaves the dead letter unmarked, so running the replay again
 * sends it again — at least once, never lost.
 */

export const REPLAYS_TOPIC = 'knative-kafka-broker-replays';
export const REPLAY_MARK_VERSION = 1;

/** Where a replay went: the trigger or subscription the event failed for, or a URL (`--to`). */
export type ReplayTarget =
  | { readonly kind: 'Trigger' | 'Subscription'; readonly namespace: string; readonly name: string }
  | { readonly kind: 'url' };

export type ReplayMarkOutcome = 'delivered' | 'dead-lettered';

export interface ReplayMark {
  readonly v: typeof REPLAY_MARK_VERSION;
  /** The dead letter: its sink topic, partition and offset, event id and record timestamp. */
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly eventId: string;
  readonly recordTimestamp: number;
  /** RFC 3339. */
  readonly replayedAt: string;
  /** How many times it has been replayed (force replays it again). */
  readonly count: number;
  readonly target: ReplayTarget;
  /** The URL the event was sent to. */
  readonly destination: string;
  /** `dead-lettered`: delivery failed again and the event went to the dead-letter sink anew. */
  readonly outcome: ReplayMarkOutcome;
}

export const markKey = (topic: string, partition: number, offset: string): string => `${topic}/${partition}/${offset}`;

export function encodeMark(mark: ReplayMark): AppendRecord {
  return {
    key: Buffer.from(markKey(mark.topic, mark.partition, mark.offset), 'utf8'),
    value: Buffer.from(JSON.stringify(mark), 'utf8'),
    headers: { 'content-type': Buffer.from('application/json') },
  };
}

/** The mark in a record, or undefined for a record that is not one (another version, garbage). */
export function decodeMark(value: Buffer | null): ReplayMark | undefined {
  if (value === null) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const m = parsed as Record<string, unknown>;
  const target = m['target'] as Record<string, unknown> | undefined;
  const ok = m['v'] === REPLAY_MARK_VERSION && typeof m['topic'] === 'string' && typeof m['partition'] === 'number'
    && typeof m['offset'] === 'string' && typeof m['eventId'] === 'string' && typeof m['recordTimestamp'] === 'number'
    && typeof m['replayedAt'] === 'string' && typeof m['count'] === 'number' && typeof m['destination'] === 'string'
    && (m['outcome'] === 'delivered' || m['outcome'] === 'dead-lettered')
    && typeof target === 'object' && target !== null && (target['kind'] === 'url' || typeof target['name'] === 'string');
  return ok ? (parsed as ReplayMark) : undefined;
}

/** Whether a mark found under a dead letter's key was written for this very record. */
export function markApplies(mark: ReplayMark, record: { readonly eventId: string; readonly timestamp: number }): boolean {
  return mark.eventId === record.eventId && mark.recordTimestamp === record.timestamp;
}

export interface ReplayRecordsOptions {
  readonly topic?: string;
  /** Replication factor of the replays topic when it is created (the controller's topic default). */
  readonly replicationFactor?: number;
}

/** Reads and writes the marks; the topic is created on first use. */
export class ReplayRecords {
  readonly topic: string;
  private readonly replicationFactor: number;
  private ensured: Promise<void> | undefined;

  constructor(
    private readonly log: EventLog,
    options: ReplayRecordsOptions = {},
  ) {
    this.topic = options.topic ?? REPLAYS_TOPIC;
    this.replicationFactor = options.replicationFactor ?? 1;
  }

  /** Every mark, the latest per key (reading the topic from the start, moving no consumer group). */
  async load(): Promise<Map<string, ReplayMark>> {
    await this.ensure();
    const marks = new Map<string, ReplayMark>();
    try {
      for await (const record of this.log.read(this.topic)) {
        const key = record.key?.toString('utf8');
        const mark = decodeMark(record.value);
        if (key !== undefined && mark !== undefined) marks.set(key, mark);
      }
    } catch (error) {
      // Deleted behind our back (or not yet visible after creation): no replays recorded.
      if (!isBrokerError(error) || error.code !== 'TOPIC_NOT_FOUND') throw error;
      this.ensured = undefined;
    }
    return marks;
  }

  /** Appends a mark; resolves once it is durable. */
  async record(mark: ReplayMark): Promise<void> {
    await this.ensure();
    await this.log.append(this.topic, [encodeMark(mark)]);
  }

  private ensure(): Promise<void> {
    this.ensured ??= this.log
      .ensureTopic(this.topic, { partitions: 1, replicationFactor: this.replicationFactor, config: { 'cleanup.policy': 'compact' } })
      .catch((error: unknown) => {
        this.ensured = undefined; // try again next time (Kafka may be back)
        throw error;
      });
    return this.ensured;
  }
}
