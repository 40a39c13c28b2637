import { setTimeout as sleep } from 'node:timers/promises';
import type { CloudEvent } from '../../core/cloudevents/event.js';
import { fromKafkaRecord } from '../../core/cloudevents/kafka-binding.js';
import { withoutTtl } from '../../core/cloudevents/ttl.js';
import { BrokerError } from '../../core/errors.js';
import type { EventLog } from '../../core/event-log/port.js';
import type { EventPredicate } from '../../core/filters/compile.js';

/**
 * A live view of a topic without a consumer group: `EventLog.read` from positions this module
 * keeps itself, polled for what was appended since. Nothing is joined, committed or moved, so
 * tailing never disturbs a trigger.
 *
 *   start: --from <time> → offsets-for-time;  -n N → the last N (by append time);  else the end
 *   then:  read(from: next offsets) every pollMs, yield what passes the filter, advance
 */

export type TailStart = { readonly kind: 'end' } | { readonly kind: 'time'; readonly at: number } | { readonly kind: 'last'; readonly count: number };

export interface TailedEvent {
  readonly partition: number;
  readonly offset: string;
  /** Append time, ms since the epoch. */
  readonly timestamp: number;
  /** The event (without the broker's hop counter), or undefined for a record that is not one. */
  readonly event: CloudEvent | undefined;
  /** Why the record is not a CloudEvent. */
  readonly problem?: string;
}

export interface TailOptions {
  readonly start: TailStart;
  /** Events it passes are shown; undecodable records are shown only without a filter. */
  readonly filter?: EventPredicate | undefined;
  readonly pollMs?: number;
  readonly signal: AbortSignal;
}

export async function* tail(log: EventLog, topic: string, options: TailOptions): AsyncGenerator<TailedEvent> {
  if (log.offsetRange === undefined) throw new BrokerError('INVALID_REQUEST', `the ${log.kind} event log cannot be tailed`);
  const ranges = await log.offsetRange(topic);
  const next = new Map<number, string>();
  const { start } = options;
  if (start.kind === 'time') {
    if (log.offsetsForTime === undefined) throw new BrokerError('INVALID_REQUEST', `the ${log.kind} event log cannot look up offsets by time`);
    for (const p of await log.offsetsForTime(topic, start.at)) next.set(p.partition, p.offset);
  } else if (start.kind === 'last') {
    // The last N of each partition hold the last N overall; those are sorted by append time below.
    for (const r of ranges) next.set(r.partition, String(maxBig(BigInt(r.start), BigInt(r.end) - BigInt(start.count))));
  } else {
    for (const r of ranges) next.set(r.partition, r.end);
  }
  const shown = (e: TailedEvent): boolean => (options.filter === undefined ? true : e.event !== undefined && options.filter(e.event));
  let first = start.kind === 'last';
  while (!options.signal.aborted) {
    const batch: TailedEvent[] = [];
    for await (const record of log.read(topic, { from: next })) {
      next.set(record.partition, String(BigInt(record.offset) + 1n));
      const decoded = fromKafkaRecord(record);
      const event = decoded.ok ? withoutTtl(decoded.event) : undefined;
      const tailed: TailedEvent = { partition: record.partition, offset: record.offset, timestamp: record.timestamp, event, ...(decoded.ok ? {} : { problem: decoded.error.message }) };
      if (shown(tailed)) batch.push(tailed);
    }
    batch.sort((a, b) => a.timestamp - b.timestamp || a.partition - b.partition);
    const out = first && start.kind === 'last' ? batch.slice(-start.count) : batch;
    first = false;
    for (const e of out) {
      if (options.signal.aborted) return;
      yield e;
    }
    await sleep(options.pollMs ?? 250, undefined, { signal: options.signal }).catch(() => undefined);
  }
}

const maxBig = (a: bigint, b: bigint): bigint => (a > b ? a : b);
