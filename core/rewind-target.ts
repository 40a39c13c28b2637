import { BrokerError } from './errors.js';

/**
 * Where a rewind or skip moves a trigger's group (`--to`):
 *
 *   earliest              each partition's earliest retained record
 *   latest                each partition's end: everything not yet delivered is skipped
 *   <RFC 3339 time>       each partition's first record appended at or after it
 *                         (2026-12-04T10:00:00Z, 2026-12-04T11:00:00+01:00)
 *   <p>:<offset>[,...]    these partitions to these offsets (others stay); clamped to what is retained
 */
export type RewindTarget =
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'time'; readonly at: number }
  | { readonly kind: 'offsets'; readonly offsets: ReadonlyMap<number, bigint> };

// Date and time with seconds and a zone (Z or ±hh:mm), as RFC 3339 §5.6 has it; fractions optional.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const OFFSET_ITEM = /^(\d+):(\d+)$/;

/** Parses `--to`; a bad one is INVALID_REQUEST with a one-line message saying what is accepted. */
export function parseRewindTarget(text: string): RewindTarget {
  const value = text.trim();
  if (value === 'earliest' || value === 'latest') return { kind: value };
  if (RFC3339.test(value)) {
    const at = Date.parse(value.replace(' ', 'T'));
    if (!Number.isNaN(at)) return { kind: 'time', at };
  }
  if (value.includes(':') && !value.includes('T') && !value.includes('-')) {
    const offsets = new Map<number, bigint>();
    for (const item of value.split(',')) {
      const match = OFFSET_ITEM.exec(item.trim());
      if (match === null) break;
      const partition = Number(match[1]);
      if (offsets.has(partition)) throw invalid(text, `partition ${partition} is given twice`);
      offsets.set(partition, BigInt(match[2]!));
    }
    if (offsets.size === value.split(',').length) return { kind: 'offsets', offsets };
  }
  throw invalid(text, 'give earliest, latest, an RFC 3339 time (2026-12-04T10:00:00Z) or <partition>:<offset>[,<partition>:<offset>...]');
}

/** The target as it is written back (for the record of rewinds). */
export function describeTarget(target: RewindTarget): string {
  switch (target.kind) {
    case 'earliest':
    case 'latest':
      return target.kind;
    case 'time':
      return new Date(target.at).toISOString();
    case 'offsets':
      return [...target.offsets].map(([p, o]) => `${p}:${o}`).join(',');
    default: {
      const never: never = target;
      return never;
    }
  }
}

const invalid = (text: string, why: string): BrokerError =>
  new BrokerError('INVALID_REQUEST', `--to ${JSON.stringify(text)}: ${why}`, { details: { to: text } });
