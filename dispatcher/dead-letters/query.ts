import { BrokerError } from '../../core/errors.js';
import { decodeCursor } from './cursor.js';
import type { DeadLetter, DeadLetterQuery, FailedFor, ObjectRef, ReplayRequest } from './types.js';

/**
 * Which dead letters a request asks for: the list's query parameters and the replay body, checked
 * into a DeadLetterQuery (a bad one is INVALID_REQUEST with a sentence), and what a query matches.
 */

/** `ns/name`, or `name` in the `default` namespace (like kubectl without -n). */
export function parseObjectRef(text: string, what: string): ObjectRef {
  const parts = text.split('/');
  const valid = (s: string | undefined): s is string => s !== undefined && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(s);
  if (parts.length === 1 && valid(parts[0])) return { namespace: 'default', name: parts[0] };
  if (parts.length === 2 && valid(parts[0]) && valid(parts[1])) return { namespace: parts[0], name: parts[1] };
  throw new BrokerError('INVALID_REQUEST', `${what} must be <namespace>/<name> or <name>, got "${text}"`);
}

/**
 * `since`: an RFC 3339 time (`2026-11-27T12:00:00Z`), or a duration back from now as kubectl's
 * `--since` takes it (`90s`, `15m`, `2h`, `7d`).
 */
export function parseSince(text: string, now: number): number {
  const duration = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (duration !== null) {
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[duration[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
    return now - Number(duration[1]) * unit;
  }
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(at)) throw new BrokerError('INVALID_REQUEST', `since must be a time (2026-11-27T12:00:00Z) or a duration (90s, 15m, 2h, 7d), got "${text}"`);
  return at;
}

/** The most dead letters one list page holds: what one request keeps in memory. */
export const MAX_LIMIT = 1000;

export function parseQuery(raw: Readonly<Record<string, unknown>>, now: number): DeadLetterQuery {
  const text = (name: string): string | undefined => {
    const value = raw[name];
    if (value === undefined || value === '') return undefined;
    if (typeof value !== 'string') throw new BrokerError('INVALID_REQUEST', `${name} must be given once, as a string`);
    return value;
  };
  const query: { -readonly [K in keyof DeadLetterQuery]: DeadLetterQuery[K] } = {};
  const sink = text('sink');
  const trigger = text('trigger');
  const subscription = text('subscription');
  const since = text('since');
  const type = text('type');
  const limit = text('limit');
  const next = text('continue');
  if (sink !== undefined) query.sink = parseObjectRef(sink, 'sink');
  if (trigger !== undefined) query.trigger = parseObjectRef(trigger, 'trigger');
  if (subscription !== undefined) query.subscription = parseObjectRef(subscription, 'subscription');
  if (since !== undefined) query.since = parseSince(since, now);
  if (type !== undefined) query.type = type;
  if (limit !== undefined) {
    if (!/^\d+$/.test(limit) || Number(limit) < 1 || Number(limit) > MAX_LIMIT) throw new BrokerError('INVALID_REQUEST', `limit must be a whole number from 1 to ${MAX_LIMIT}, got "${limit}"`);
    query.limit = Number(limit);
  }
  if (next !== undefined) {
    decodeCursor(next); // a bad token fails here, as INVALID_REQUEST
    query.continue = next;
  }
  return query;
}

/** The replay body: JSON `{ ids?, all?, sink?, trigger?, subscription?, type?, since?, to?, force? }`. */
export function parseReplayBody(body: unknown, now: number): ReplayRequest {
  let parsed: unknown;
  try {
    parsed = Buffer.isBuffer(body) ? JSON.parse(body.toString('utf8')) : body;
  } catch {
    throw new BrokerError('INVALID_REQUEST', 'the replay request must be a JSON object');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new BrokerError('INVALID_REQUEST', 'the replay request must be a JSON object');
  const o = parsed as Record<string, unknown>;
  const known = ['ids', 'all', 'to', 'force', 'sink', 'trigger', 'subscription', 'type', 'since'];
  const unknown = Object.keys(o).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new BrokerError('INVALID_REQUEST', `unknown field(s) in the replay request: ${unknown.join(', ')}`);
  const ids = o['ids'];
  if (ids !== undefined && (!Array.isArray(ids) || !ids.every((i) => typeof i === 'string' && i !== ''))) throw new BrokerError('INVALID_REQUEST', 'ids must be a list of dead-letter ids');
  for (const flag of ['all', 'force'] as const) if (o[flag] !== undefined && typeof o[flag] !== 'boolean') throw new BrokerError('INVALID_REQUEST', `${flag} must be true or false`);
  if (o['to'] !== undefined && typeof o['to'] !== 'string') throw new BrokerError('INVALID_REQUEST', 'to must be a URL');
  const filters = Object.fromEntries(['sink', 'trigger', 'subscription', 'type', 'since'].filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
  const query = parseQuery(filters, now);
  return {
    ...(ids === undefined ? {} : { ids: ids as string[] }),
    ...(o['all'] === undefined ? {} : { all: o['all'] as boolean }),
    ...(Object.keys(query).length === 0 ? {} : { query }),
    ...(o['to'] === undefined ? {} : { to: o['to'] as string }),
    ...(o['force'] === undefined ? {} : { force: o['force'] as boolean }),
  };
}

/** Whether a dead letter is one the query selects (its sink is chosen before reading, not here). */
export function matchesQuery(view: DeadLetter, query: DeadLetterQuery): boolean {
  const is = (ref: ObjectRef | undefined, kind: FailedFor['kind']): boolean =>
    ref === undefined || (view.failedFor?.kind === kind && view.failedFor.namespace === ref.namespace && view.failedFor.name === ref.name);
  return is(query.trigger, 'Trigger')
    && is(query.subscription, 'Subscription')
    && (query.type === undefined || view.type === query.type)
    && (query.since === undefined || Date.parse(view.deadLetteredAt) >= query.since);
}
