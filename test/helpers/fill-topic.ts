import { setTimeout as sleep } from 'node:timers/promises';
import { toKafkaRecord } from '../../core/cloudevents/kafka-binding.js';
import type { AppendRecord, EventLog } from '../../core/event-log/port.js';

/** A binary-mode event of 1 KiB of data; the records below differ from it only in ce_id (and key). */
const BASE = toKafkaRecord({
  attributes: { specversion: '1.0', id: 'bench', source: '/bench', type: 'bench.event', datacontenttype: 'application/octet-stream', knativebrokerttl: 255 },
  data: Buffer.alloc(1024, 'x'),
});

/**
 * `count` 1 KiB events numbered from `from`, sharing one value buffer (the in-memory log keeps
 * references, not copies); keyed ones spread over 100 keys.
 */
export function eventRecords(from: number, count: number, keyed = false): AppendRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    key: keyed ? Buffer.from(`key-${(from + i) % 100}`) : null,
    value: BASE.value,
    headers: { ...BASE.headers, ce_id: Buffer.from(`e-${from + i}`) },
  }));
}

/**
 * Appends `count` events (eventRecords) in appends of `batch` records. A record batch must stay
 * under the topic's max.message.bytes (2 MiB) per partition. A topic created a moment ago may not
 * be known to every producer connection yet, so a failed append is tried again, up to 5 times.
 */
export async function fillTopic(log: EventLog, topic: string, count: number, options: { readonly batch?: number; readonly keyed?: boolean } = {}): Promise<void> {
  const batch = options.batch ?? 1000;
  for (let i = 0; i < count; i += batch) {
    const records = eventRecords(i, Math.min(batch, count - i), options.keyed);
    for (let attempt = 1; ; attempt++) {
      try {
        await log.append(topic, records);
        break;
      } catch (error) {
        if (attempt >= 5) throw error;
        await sleep(500);
      }
    }
  }
}
