import { isUtf8 } from 'node:buffer';
import type { FastifyInstance } from 'fastify';
import type { AttributeValue, CloudEvent } from '../core/cloudevents/event.js';
import type { Egress, Resource } from '../core/contract/types.js';
import type { ContractSource } from '../core/contract/watch.js';
import { BrokerError, isBrokerError } from '../core/errors.js';
import type { EventLog } from '../core/event-log/port.js';
import type { Logger } from '../core/logger.js';
import type { DispatcherConfig } from './config.js';
import { renderDeadLettersPage } from './dead-letters-page.js';
import { ERROR_BROKER, ERROR_CODE, ERROR_DATA, ERROR_DEST, ERROR_SUBSCRIPTION, ERROR_TRIGGER } from './dead-letter.js';
import { HttpSender, type Sender } from './delivery.js';
import { systemClock, type Clock } from './dispatch.js';
import { decodeSafely, quarantinedEntries } from './quarantine.js';
import { markApplies, markKey, ReplayRecords, type ReplayMark, type ReplayTarget } from './replay-records.js';
import { describeFailure, egressRoute, replayEvent, urlRoute, withoutErrorMarks, type ReplayOutcome } from './replay.js';

/**
 * Dead letters you can see: the events that KafkaSinks of the current contract hold with
 * Knative's dead-letter marks (`knativeerrordest`, …, see dead-letter.ts), listed, shown and
 * replayed. `kafka-broker start` registers the routes below on its admin server; the CLI
 * (`kafka-broker dead-letters`) and the page at /dead-letters are clients of them.
 *
 *   GET  /dead-letters                    the page (HTML; filters as query parameters)
 *   GET  /dead-letters/events             the list: ?sink=&trigger=&subscription=&type=&since=&limit=
 *   GET  /dead-letters/events/<id>        one dead letter in full (an event id may match several)
 *   POST /dead-letters/replay             {"ids":[…]} or {"all":true, <filters>}, "to", "force"
 *
 * Reading: each sink topic is read from its start with `EventLog.read`, which moves no consumer
 * group (Kafka: a throwaway group that commits nothing). A record is a dead letter when it decodes
 * as a CloudEvent carrying `knativeerrordest`; anything else a sink holds is counted, not listed.
 *
 * Ids: a dead letter is named by its event id (what the table shows) or, exactly, by its position
 * `<sink namespace>/<sink name>/<partition>/<offset>` (its `ref`). One event can be dead-lettered
 * more than once — by two triggers, or again after a replay that failed — so an event id may
 * name several dead letters.
 *
 * Replay sends each dead letter, without its `knativeerror*` extensions, to the trigger or
 * subscription it failed for as the current contract defines it (subscriber, delivery settings,
 * dead-letter sink), through the dispatcher's pipeline (replay.ts) — not through the broker,
 * whose other triggers already had it — or to the URL given as `to`. Each replay is recorded
 * (replay-records.ts); replaying a recorded one by id needs `force`, and `all` skips them unless
 * forced, so a replay that was interrupted is finished by running it again.
 */

export interface DeadLetterServiceDeps {
  readonly log: EventLog;
  readonly contracts: ContractSource;
  readonly config: DispatcherConfig;
  readonly logger: Logger;
  /** The replays topic; `replicationFactor` should be the controller's topic default. */
  readonly replays?: { readonly topic?: string; readonly replicationFactor?: number };
  readonly sender?: Sender;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly now?: () => number;
}

export interface ObjectRef {
  readonly namespace: string;
  readonly name: string;
}

export interface SinkInfo extends ObjectRef {
  readonly topic: string;
  readonly path: string;
}

export interface FailedFor extends ObjectRef {
  readonly kind: 'Trigger' | 'Subscription';
}

export interface DeadLetter {
  /** `<sink namespace>/<sink name>/<partition>/<offset>`: names exactly this dead letter. */
  readonly ref: string;
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly subject?: string;
  readonly sink: ObjectRef & { readonly topic: string };
  readonly partition: number;
  readonly offset: string;
  /** RFC 3339: when the dead letter was written to the sink (the record's timestamp). */
  readonly deadLetteredAt: string;
  /** From `knativeerrortrigger` / `knativeerrorsubscription`; null when the event has neither. */
  readonly failedFor: FailedFor | null;
  /** From `knativeerrorbroker`: the broker (or channel) the event was read from. */
  readonly broker: string | null;
  readonly errorDest: string;
  readonly errorCode: number | null;
  /** The latest replay of this dead letter, if any. */
  readonly replay: ReplayMark | null;
}

/** Bytes shown as text when they are readable, else as base64. */
export interface Payload {
  readonly encoding: 'text' | 'base64';
  readonly value: string;
  readonly bytes: number;
}

export interface DeadLetterDetail extends DeadLetter {
  /** Every attribute, the dead-letter extensions included. */
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  readonly data: Payload | null;
  /** `knativeerrordata` decoded: the failed response's body (its first 1024 bytes). */
  readonly errorData: Payload | null;
}

export interface DeadLetterQuery {
  readonly sink?: ObjectRef;
  readonly trigger?: ObjectRef;
  readonly subscription?: ObjectRef;
  /** Only dead letters written at or after this time (ms since the epoch). */
  readonly since?: number;
  readonly type?: string;
  /** At most this many, the newest (default 1000). */
  readonly limit?: number;
}

export interface DeadLetterList {
  /** Oldest first. */
  readonly items: readonly DeadLetter[];
  /** The sinks that were read. */
  readonly sinks: readonly SinkInfo[];
  /** Dead letters matching the query before `limit`. */
  readonly total: number;
  /** Records in those sinks that are not dead letters (no `knativeerrordest`, or not CloudEvents). */
  readonly other: number;
}

export interface ReplayRequest {
  readonly ids?: readonly string[];
  readonly all?: boolean;
  /** With `all`: which dead letters. */
  readonly query?: DeadLetterQuery;
  readonly to?: string;
  readonly force?: boolean;
}

export interface ReplayResult {
  readonly ref: string;
  readonly id: string;
  readonly failedFor: FailedFor | null;
  /** `Trigger <ns>/<name>`, `Subscription <ns>/<name>`, or the URL given. */
  readonly target: string;
  /** Where the event was sent; null when it was not sent. */
  readonly destination: string | null;
  readonly outcome: 'delivered' | 'dead-lettered' | 'failed';
  readonly message?: string;
  /** Whether the replay record was written (false for a failure, or when the write failed). */
  readonly recorded: boolean;
}

export interface ReplayReport {
  readonly results: readonly ReplayResult[];
}

const DEFAULT_LIMIT = 1000;

/** A dead letter as read, with what replay needs. */
interface Entry {
  readonly view: DeadLetter;
  readonly event: CloudEvent;
  readonly timestamp: number;
  readonly sinkResource: Resource;
}

export class DeadLetterService {
  private readonly records: ReplayRecords;
  private sender: Sender | undefined;
  private readonly closing = new AbortController();
  /** Replays run one at a time: two clicks on one event must not send it twice. */
  private replays: Promise<unknown> = Promise.resolve();
  private readonly now: () => number;
  private readonly logger: Logger;

  constructor(private readonly deps: DeadLetterServiceDeps) {
    this.records = new ReplayRecords(deps.log, deps.replays);
    this.sender = deps.sender;
    this.now = deps.now ?? Date.now;
    this.logger = deps.logger.child({ component: 'dead-letters' });
  }

  /** The KafkaSinks of the current contract. */
  sinks(): SinkInfo[] {
    return sinkResources(this.deps.contracts).map(sinkInfo);
  }

  async list(query: DeadLetterQuery = {}): Promise<DeadLetterList> {
    const resources = this.sinksFor(query.sink);
    const [marks, scanned] = await Promise.all([this.records.load(), this.scan(resources)]);
    const matching = scanned.entries.map((e) => withMark(e, marks)).filter((e) => matches(e.view, query));
    const limit = query.limit ?? DEFAULT_LIMIT;
    return { items: matching.slice(Math.max(0, matching.length - limit)).map((e) => e.view), sinks: resources.map(sinkInfo), total: matching.length, other: scanned.other };
  }

  /** Every dead letter the id names (an event id may name several); NOT_FOUND when none. */
  async show(id: string): Promise<DeadLetterDetail[]> {
    const found = await this.find([id]);
    const entries = found.get(id) ?? [];
    if (entries.length === 0) throw notFound([id], this.sinks());
    return entries.map(detail);
  }

  replay(request: ReplayRequest): Promise<ReplayReport> {
    const run = this.replays.then(() => this.replayNow(request));
    this.replays = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    this.closing.abort();
    await this.replays;
    if (this.sender instanceof HttpSender && this.deps.sender === undefined) await this.sender.close().catch(() => undefined);
  }

  // ---- reading

  private sinksFor(sink: ObjectRef | undefined): Resource[] {
    const all = sinkResources(this.deps.contracts);
    if (sink === undefined) return all;
    const one = all.filter((r) => r.reference.namespace === sink.namespace && r.reference.name === sink.name);
    if (one.length === 0) {
      throw new BrokerError('NOT_FOUND', `KafkaSink ${sink.namespace}/${sink.name} is not serving (it does not exist or is not Ready: see kafka-broker get kafkasinks)`, { details: { sink } });
    }
    return one;
  }

  /** Reads the sinks' topics from the start, in parallel; oldest dead letter first. */
  private async scan(resources: readonly Resource[]): Promise<{ entries: Entry[]; other: number }> {
    const perSink = await Promise.all(resources.map((r) => this.readSink(r)));
    // Issue 14: quarantined undecodable records (quarantine.ts), listed unless one sink is asked for.
    if (resources.length === sinkResources(this.deps.contracts).length) perSink.push({ entries: await quarantinedEntries(this.deps.log, this.deps.config.quarantineTopic), other: 0 });
    const entries = perSink.flatMap((s) => s.entries).sort((a, b) => a.timestamp - b.timestamp || compare(a.view.ref, b.view.ref));
    return { entries, other: perSink.reduce((n, s) => n + s.other, 0) };
  }

  private async readSink(resource: Resource): Promise<{ entries: Entry[]; other: number }> {
    const topic = resource.topics[0]!;
    const entries: Entry[] = [];
    let other = 0;
    try {
      for await (const record of this.deps.log.read(topic)) {
        const decoded = decodeSafely(record);
        if (!decoded.ok || decoded.event.attributes[ERROR_DEST] === undefined) {
          other++;
          continue;
        }
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
        entries.push({ view, event, timestamp: record.timestamp, sinkResource: resource });
      }
    } catch (error) {
      // The topic went away with its sink between the contract and the read: nothing to list.
      if (isBrokerError(error) && error.code === 'TOPIC_NOT_FOUND') return { entries: [], other: 0 };
      throw error;
    }
    return { entries, other };
  }

  /** The entries each id names, with their replay marks. */
  private async find(ids: readonly string[], marks?: Map<string, ReplayMark>): Promise<Map<string, Entry[]>> {
    const refs = ids.map(parseRef);
    // Only the sinks that refs name, when every id is a ref; all sinks otherwise.
    const named = refs.every((r) => r !== undefined) ? new Set(refs.map((r) => `${r!.namespace}/${r!.name}`)) : undefined;
    const resources = sinkResources(this.deps.contracts).filter((r) => named === undefined || named.has(`${r.reference.namespace}/${r.reference.name}`));
    const [loaded, scanned] = await Promise.all([marks ?? this.records.load(), this.scan(resources)]);
    const entries = scanned.entries.map((e) => withMark(e, loaded));
    return new Map(ids.map((id) => [id, entries.filter((e) => e.view.ref === id || e.view.id === id)]));
  }

  // ---- replaying

  private async replayNow(request: ReplayRequest): Promise<ReplayReport> {
    const ids = request.ids ?? [];
    if (request.all === true && ids.length > 0) throw new BrokerError('INVALID_REQUEST', 'give either ids or all, not both');
    if (request.all !== true && ids.length === 0) throw new BrokerError('INVALID_REQUEST', 'which dead letters? give their ids, or all (with filters)');
    if (request.all !== true && request.query !== undefined && Object.keys(request.query).length > 0) {
      throw new BrokerError('INVALID_REQUEST', 'filters select dead letters for all; with ids, give only the ids');
    }
    if (request.to !== undefined && !isHttpUrl(request.to)) throw new BrokerError('INVALID_REQUEST', `to must be an absolute http or https URL, got "${request.to}"`);
    const force = request.force === true;
    const marks = await this.records.load();

    let selected: Entry[];
    if (request.all === true) {
      const query = request.query ?? {};
      const resources = this.sinksFor(query.sink);
      const scanned = await this.scan(resources);
      selected = scanned.entries.map((e) => withMark(e, marks)).filter((e) => matches(e.view, query) && (force || e.view.replay === null));
    } else {
      const found = await this.find(ids, marks);
      const unknown = ids.filter((id) => (found.get(id) ?? []).length === 0);
      if (unknown.length > 0) throw notFound(unknown, this.sinks());
      selected = [];
      const replayed: Entry[] = [];
      for (const id of ids) {
        const entries = found.get(id)!;
        const pending = entries.filter((e) => e.view.replay === null);
        if (force) selected.push(...latestPerTarget(entries));
        else if (pending.length > 0) selected.push(...pending);
        else replayed.push(entries[entries.length - 1]!);
      }
      if (replayed.length > 0) throw alreadyReplayed(replayed.map((e) => e.view));
    }
    const unique = [...new Map(selected.map((e) => [e.view.ref, e])).values()].sort((a, b) => a.timestamp - b.timestamp || compare(a.view.ref, b.view.ref));

    const results: ReplayResult[] = [];
    for (const entry of unique) {
      if (this.closing.signal.aborted) break;
      results.push(await this.replayOne(entry, request.to));
    }
    return { results };
  }

  private async replayOne(entry: Entry, to: string | undefined): Promise<ReplayResult> {
    const { view } = entry;
    const base = { ref: view.ref, id: view.id, failedFor: view.failedFor };
    const contract = this.deps.contracts.current();
    const current = view.failedFor === null ? undefined : findEgress(contract?.resources ?? [], view.failedFor);
    let route;
    let target: ReplayTarget;
    let targetText: string;
    if (to !== undefined) {
      route = urlRoute(to, current, entry.sinkResource, this.deps.config.defaultTimeoutMs);
      target = { kind: 'url' };
      targetText = to;
    } else if (view.failedFor === null) {
      return { ...base, target: '', destination: null, outcome: 'failed', recorded: false, message: `it does not say which trigger or subscription it failed for (no ${ERROR_TRIGGER} or ${ERROR_SUBSCRIPTION}); replay it with --to <url>` };
    } else {
      targetText = `${view.failedFor.kind} ${view.failedFor.namespace}/${view.failedFor.name}`;
      if (current === undefined) {
        return { ...base, target: targetText, destination: null, outcome: 'failed', recorded: false, message: `${targetText} is not in the contract (deleted, or not Ready); replay it with --to <url>` };
      }
      route = egressRoute(current.resource, current.egress, this.deps.config.defaultTimeoutMs);
      target = { kind: view.failedFor.kind, namespace: view.failedFor.namespace, name: view.failedFor.name };
    }
    const destination = route.egress.destination;
    const outcome: ReplayOutcome = await replayEvent(withoutErrorMarks(entry.event), route, {
      topic: view.sink.topic, partition: view.partition, offset: view.offset, timestamp: entry.timestamp,
    }, {
      sender: this.httpSender(),
      log: this.deps.log,
      clock: this.deps.clock ?? systemClock,
      random: this.deps.random ?? Math.random,
      defaultTimeoutMs: this.deps.config.defaultTimeoutMs,
    }, this.closing.signal);
    if (outcome.kind === 'failed') {
      this.logger.warn({ ref: view.ref, eventId: view.id, target: targetText, destination, reason: outcome.message }, 'replay failed');
      return { ...base, target: targetText, destination, outcome: 'failed', recorded: false, message: outcome.message };
    }
    const message = outcome.kind === 'dead-lettered'
      ? `delivery failed again${outcome.failed === undefined ? '' : ` (${outcome.failed.destination}: ${describeFailure(outcome.failed)})`}; the event went to the dead-letter sink again`
      : undefined;
    const mark: ReplayMark = {
      v: 1,
      topic: view.sink.topic,
      partition: view.partition,
      offset: view.offset,
      eventId: view.id,
      recordTimestamp: entry.timestamp,
      replayedAt: new Date(this.now()).toISOString(),
      count: (view.replay?.count ?? 0) + 1,
      target,
      destination,
      outcome: outcome.kind,
    };
    this.logger.info({ ref: view.ref, eventId: view.id, target: targetText, destination, outcome: outcome.kind }, 'dead letter replayed');
    try {
      await this.records.record(mark);
    } catch (error) {
      this.logger.error({ ref: view.ref, err: error }, 'the replay was not recorded: replaying again will send the event again');
      const note = `the replay was not recorded (${(error as Error).message}): replaying again sends it again`;
      return { ...base, target: targetText, destination, outcome: outcome.kind, recorded: false, message: message === undefined ? note : `${message}; ${note}` };
    }
    return { ...base, target: targetText, destination, outcome: outcome.kind, recorded: true, ...(message === undefined ? {} : { message }) };
  }

  private httpSender(): Sender {
    this.sender ??= new HttpSender({ connections: 8, maxResponseBytes: this.deps.config.maxResponseBytes });
    return this.sender;
  }
}

// ---- the admin routes

/** Registers the API and the page on the admin server (before it listens). */
export function registerDeadLetterRoutes(app: FastifyInstance, service: DeadLetterService): void {
  app.get<{ Querystring: Record<string, string | undefined> }>('/dead-letters', async (request, reply) => {
    const raw = request.query;
    let list: DeadLetterList | undefined;
    let problem: string | undefined;
    try {
      list = await service.list(parseQuery(raw, Date.now()));
    } catch (error) {
      if (!isBrokerError(error) || error.status >= 500) throw error;
      problem = error.message;
    }
    reply.code(problem === undefined ? 200 : 400).type('text/html; charset=utf-8');
    return renderDeadLettersPage({ list, problem, filters: raw, sinks: service.sinks() });
  });
  app.get<{ Querystring: Record<string, string | undefined> }>('/dead-letters/events', async (request) => service.list(parseQuery(request.query, Date.now())));
  app.get<{ Params: { id: string } }>('/dead-letters/events/:id', async (request) => ({ items: await service.show(request.params.id) }));
  app.post('/dead-letters/replay', async (request) => service.replay(parseReplayBody(request.body, Date.now())));
}

// ---- parsing requests

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
  if (sink !== undefined) query.sink = parseObjectRef(sink, 'sink');
  if (trigger !== undefined) query.trigger = parseObjectRef(trigger, 'trigger');
  if (subscription !== undefined) query.subscription = parseObjectRef(subscription, 'subscription');
  if (since !== undefined) query.since = parseSince(since, now);
  if (type !== undefined) query.type = type;
  if (limit !== undefined) {
    if (!/^\d+$/.test(limit) || Number(limit) < 1) throw new BrokerError('INVALID_REQUEST', `limit must be a whole number >= 1, got "${limit}"`);
    query.limit = Number(limit);
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

// ---- helpers

function sinkResources(contracts: ContractSource): Resource[] {
  return (contracts.current()?.resources ?? []).filter((r) => r.kind === 'KafkaSink' && r.topics[0] !== undefined);
}

function sinkInfo(resource: Resource): SinkInfo {
  return { namespace: resource.reference.namespace, name: resource.reference.name, topic: resource.topics[0]!, path: resource.ingress?.path ?? '' };
}

function parseRef(id: string): (ObjectRef & { partition: number; offset: string }) | undefined {
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

function withMark(entry: Entry, marks: ReadonlyMap<string, ReplayMark>): Entry {
  const mark = marks.get(markKey(entry.view.sink.topic, entry.view.partition, entry.view.offset));
  const applies = mark !== undefined && markApplies(mark, { eventId: entry.view.id, timestamp: entry.timestamp });
  return applies ? { ...entry, view: { ...entry.view, replay: mark } } : entry;
}

function matches(view: DeadLetter, query: DeadLetterQuery): boolean {
  const is = (ref: ObjectRef | undefined, kind: FailedFor['kind']): boolean =>
    ref === undefined || (view.failedFor?.kind === kind && view.failedFor.namespace === ref.namespace && view.failedFor.name === ref.name);
  return is(query.trigger, 'Trigger')
    && is(query.subscription, 'Subscription')
    && (query.type === undefined || view.type === query.type)
    && (query.since === undefined || Date.parse(view.deadLetteredAt) >= query.since);
}

/** With force, one dead letter per target: the latest, so a chain of failed replays is sent once. */
function latestPerTarget(entries: readonly Entry[]): Entry[] {
  const byTarget = new Map<string, Entry>();
  for (const e of entries) byTarget.set(e.view.failedFor === null ? e.view.ref : `${e.view.failedFor.kind}/${e.view.failedFor.namespace}/${e.view.failedFor.name}`, e);
  return [...byTarget.values()];
}

function findEgress(resources: readonly Resource[], failedFor: FailedFor): { resource: Resource; egress: Egress } | undefined {
  for (const resource of resources) {
    for (const egress of resource.egresses) {
      const r = egress.reference;
      if (r.kind === failedFor.kind && r.namespace === failedFor.namespace && r.name === failedFor.name) return { resource, egress };
    }
  }
  return undefined;
}

function detail(entry: Entry): DeadLetterDetail {
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

function notFound(ids: readonly string[], sinks: readonly SinkInfo[]): BrokerError {
  const where = sinks.length === 0 ? 'there are no KafkaSinks serving' : `searched ${sinks.map((s) => `${s.namespace}/${s.name}`).join(', ')}`;
  const what = ids.length === 1 ? `no dead letter with id "${ids[0]}"` : `no dead letters with ids ${ids.map((i) => `"${i}"`).join(', ')}`;
  return new BrokerError('NOT_FOUND', `${what} (${where})`, { details: { ids } });
}

function alreadyReplayed(views: readonly DeadLetter[]): BrokerError {
  const first = views[0]!;
  const mark = first.replay!;
  const to = mark.target.kind === 'url' ? mark.destination : `${mark.target.kind} ${mark.target.namespace}/${mark.target.name}`;
  const more = views.length > 1 ? ` (and ${views.length - 1} more)` : '';
  return new BrokerError('ALREADY_REPLAYED', `dead letter "${first.id}" was already replayed at ${mark.replayedAt} (${mark.outcome}, to ${to})${more}; use --force to replay it again`, {
    details: { ids: views.map((v) => v.id), refs: views.map((v) => v.ref) },
  });
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host !== '';
  } catch {
    return false;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
