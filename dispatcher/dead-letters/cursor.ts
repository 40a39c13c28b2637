import { BrokerError } from '../../core/errors.js';

/**
 * The list's continuation token: where the next page starts reading, as the next offset of every
 * sink-topic partition read so far. Opaque to clients: base64url of
 *
 *   {"v":1,"at":[["<topic>",<partition>,"<next offset>"], ...]}
 *
 * A partition the token does not name is read from its start. Topics are kept as array entries,
 * never as object keys: they came over the wire.
 */

/** Next offset to read, per topic and partition. */
export type Cursor = Map<string, Map<number, string>>;

const VERSION = 1;

export function encodeCursor(cursor: Cursor): string {
  const at: [string, number, string][] = [];
  for (const [topic, partitions] of [...cursor].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    for (const [partition, offset] of [...partitions].sort(([a], [b]) => a - b)) at.push([topic, partition, offset]);
  }
  return Buffer.from(JSON.stringify({ v: VERSION, at }), 'utf8').toString('base64url');
}

export function decodeCursor(token: string): Cursor {
  const bad = (): BrokerError => new BrokerError('INVALID_REQUEST', 'continue must be a token a previous list returned (it is not one, or it is damaged)');
  if (!/^[A-Za-z0-9_-]{1,65536}$/.test(token)) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (typeof parsed !== 'object' || parsed === null || (parsed as { v?: unknown }).v !== VERSION) throw bad();
  const at = (parsed as { at?: unknown }).at;
  if (!Array.isArray(at)) throw bad();
  const cursor: Cursor = new Map();
  for (const entry of at as unknown[]) {
    if (!Array.isArray(entry) || entry.length !== 3) throw bad();
    const [topic, partition, offset] = entry as unknown[];
    if (typeof topic !== 'string' || topic === '' || !Number.isInteger(partition) || (partition as number) < 0 || typeof offset !== 'string' || !/^\d{1,19}$/.test(offset)) throw bad();
    let partitions = cursor.get(topic);
    if (partitions === undefined) cursor.set(topic, (partitions = new Map()));
    partitions.set(partition as number, offset);
  }
  return cursor;
}

/** Moves the cursor past a record that was read. */
export function advance(cursor: Cursor, topic: string, partition: number, offset: string): void {
  let partitions = cursor.get(topic);
  if (partitions === undefined) cursor.set(topic, (partitions = new Map()));
  partitions.set(partition, (BigInt(offset) + 1n).toString());
}
