import type { Resource } from '../../core/contract/types.js';
import type { ContractSource } from '../../core/contract/source.js';
import { BrokerError } from '../../core/errors.js';
import type { EventLog } from '../../core/event-log/port.js';
import type { Logger } from '../../core/logger.js';
import type { DispatcherConfig } from '../config.js';
import { HttpSender, type Sender } from '../delivery.js';
import { systemClock, type Clock } from '../dispatch.js';
import { ERROR_SUBSCRIPTION, ERROR_TRIGGER } from '../error-extensions.js';
import { decodeSafely, quarantinedEntries, quarantinedEntry } from '../quarantine.js';
import { advance, decodeCursor, encodeCursor, type Cursor } from './cursor.js';
import { matchesQuery } from './query.js';
import { detail, oldestFirst, parseRef, readSinks, scanTopics, sinkInfo, sinkResources, sinkTopic, withMark, type Entry, type ListedTopic } from './records.js';
import { ReplayRecords, type ReplayMark, type ReplayTarget } from './replay-records.js';
import { describeFailure, egressRoute, findEgress, replayEvent, urlRoute, withoutErrorMarks, type ReplayOutcome } from './replay.js';
import type {
  DeadLetter, DeadLetterDetail, DeadLetterList, DeadLetterQuery, ObjectRef, ReplayReport, ReplayRequest, ReplayResult, SinkInfo,
} from './types.js';
import { isHttpUrl } from '../../core/values.js';

/**
 * The dead-letter service: lists, shows and replays what the KafkaSinks of the current contract
 * hold (records.ts reads them). Replay sends each dead letter, without its `knativeerror*`
 * extensions, to the trigger or subscription it failed for as the current contract defines it
 * (subscriber, delivery settings, dead-letter sink), through the dispatcher's pipeline
 * (replay.ts) — not through the broker, whose other triggers already had it — or to the URL given
 * as `to`. Each replay is recorded (replay-records.ts); replaying a recorded one by id needs
 * `force`, and `all` skips them unless forced, so a replay that was interrupted is finished by
 * running it again.
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

/** Dead letters per list page unless the request says (query.ts caps it at MAX_LIMIT). */
const DEFAULT_LIMIT = 100;

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

  /**
   * One page of dead letters: the sinks read in order from the `continue` cursor (else from their
   * starts) until `limit` match. Only the page's views are kept, never events outside it, and the
   * read stops there; `continue` says where the next page starts.
   */
  async list(query: DeadLetterQuery = {}): Promise<DeadLetterList> {
    const resources = this.sinksFor(query.sink);
    const topics = [...resources.map(sinkTopic), ...(query.sink === undefined ? [this.quarantineTopic()] : [])];
    const cursor: Cursor = query.continue === undefined ? new Map() : decodeCursor(query.continue);
    const marks = await this.records.load();
    const limit = query.limit ?? DEFAULT_LIMIT;
    const items: DeadLetter[] = [];
    let other = 0;
    let more = false;
    for await (const { record, entry } of scanTopics(this.deps.log, topics, cursor)) {
      if (items.length >= limit) {
        more = true;
        break;
      }
      advance(cursor, record.topic, record.partition, record.offset);
      if (entry === undefined) {
        other++;
        continue;
      }
      const view = withMark(entry, marks).view;
      if (matchesQuery(view, query)) items.push(view);
    }
    return { items, sinks: resources.map(sinkInfo), other, ...(more ? { continue: encodeCursor(cursor) } : {}) };
  }

  /** The quarantine's records, listed under the pseudo sink QUARANTINE_SINK. */
  private quarantineTopic(): ListedTopic {
    const topic = this.deps.config.quarantineTopic;
    return {
      topic,
      entryOf: (record) => {
        const decoded = decodeSafely(record);
        return decoded.ok ? quarantinedEntry(decoded.event, record, topic) : undefined;
      },
    };
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

  /** The sinks' dead letters, and the quarantined undecodable records unless one sink is asked for. */
  private async scan(resources: readonly Resource[]): Promise<{ entries: Entry[]; other: number }> {
    const all = resources.length === sinkResources(this.deps.contracts).length;
    const [scanned, quarantined] = await Promise.all([
      readSinks(this.deps.log, resources),
      all ? quarantinedEntries(this.deps.log, this.deps.config.quarantineTopic) : Promise.resolve([]),
    ]);
    if (quarantined.length === 0) return scanned;
    return { entries: [...scanned.entries, ...quarantined].sort(oldestFirst), other: scanned.other };
  }

  private sinksFor(sink: ObjectRef | undefined): Resource[] {
    const all = sinkResources(this.deps.contracts);
    if (sink === undefined) return all;
    const one = all.filter((r) => r.reference.namespace === sink.namespace && r.reference.name === sink.name);
    if (one.length === 0) {
      throw new BrokerError('NOT_FOUND', `KafkaSink ${sink.namespace}/${sink.name} is not serving (it does not exist or is not Ready: see kafka-broker get kafkasinks)`, { details: { sink } });
    }
    return one;
  }

  /** The entries each id names, with their replay marks. */
  private async find(ids: readonly string[], marks?: Map<string, ReplayMark>): Promise<Map<string, Entry[]>> {
    const refs = ids.map(parseRef);
    // Only the sinks that refs name, when every id is a ref; all sinks otherwise.
    const named = refs.every((r) => r !== undefined) ? new Set(refs.map((r) => `${r!.namespace}/${r!.name}`)) : undefined;
    const resources = sinkResources(this.deps.contracts).filter((r) => named === undefined || named.has(`${r.reference.namespace}/${r.reference.name}`));
    const loaded = marks ?? (await this.records.load());
    const all = resources.length === sinkResources(this.deps.contracts).length;
    const topics = [...resources.map(sinkTopic), ...(all ? [this.quarantineTopic()] : [])];
    // Only the entries the ids name are kept: a show or a replay holds no more than it uses.
    const wanted = new Set(ids);
    const kept: Entry[] = [];
    for await (const { entry } of scanTopics(this.deps.log, topics)) {
      if (entry !== undefined && (wanted.has(entry.view.ref) || wanted.has(entry.view.id))) kept.push(withMark(entry, loaded));
    }
    kept.sort(oldestFirst);
    return new Map(ids.map((id) => [id, kept.filter((e) => e.view.ref === id || e.view.id === id)]));
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
      selected = scanned.entries.map((e) => withMark(e, marks)).filter((e) => matchesQuery(e.view, query) && (force || e.view.replay === null));
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
    const unique = [...new Map(selected.map((e) => [e.view.ref, e])).values()].sort(oldestFirst);

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

/** With force, one dead letter per target: the latest, so a chain of failed replays is sent once. */
function latestPerTarget(entries: readonly Entry[]): Entry[] {
  const byTarget = new Map<string, Entry>();
  for (const e of entries) byTarget.set(e.view.failedFor === null ? e.view.ref : `${e.view.failedFor.kind}/${e.view.failedFor.namespace}/${e.view.failedFor.name}`, e);
  return [...byTarget.values()];
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

