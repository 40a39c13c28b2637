import type { CloudEvent } from '../core/cloudevents/event.js';
import { encodeHttpBinary, encodeHttpStructured } from '../core/cloudevents/http-binding.js';
import { fromKafkaRecord, toKafkaRecord } from '../core/cloudevents/kafka-binding.js';
import { TTL_ATTRIBUTE, withoutTtl } from '../core/cloudevents/ttl.js';
import type { BrokerError } from '../core/errors.js';
import type { Egress, Resource } from '../core/contract/types.js';
import type { ConsumedRecord, EventLog } from '../core/event-log/port.js';
import { ownBytes } from '../core/owned-bytes.js';
import { setTraceHeaders, traceHeadersOfRecord, TRACESTATE, type TraceHeaders } from '../core/trace-context.js';
import { spanStartTime, type Tracing } from '../core/tracing.js';
import { deadLetterEvent, ERROR_DATA_MAX_BYTES, type LastFailure } from './error-extensions.js';
import type { AttemptResult, HttpRequest, Sender } from './delivery.js';
import { replyOf, stampReply } from './reply.js';
import { Quarantine } from './quarantine.js';
import { MAX_DELAY_MS, retryAfterMs, stallBackoffMs, type AttemptFailure, type RetryPolicy } from './retry-policy.js';
import { RecordTrace } from './tracing.js';
import { handlingErrorOf, undecodableEvent } from './undecodable.js';
import { sourceEventOf } from './kafka-source-record.js';

/**
 * The life of one record, as a small state machine. Each step either finishes the record
 * (`record.done()`: its offset may then be committed) or hands it to the next step:
 *
 *   record ──decode──▶ event ──filter──▶ rejected ─────────────────────────────────▶ done (filtered)
 *     │ not a CloudEvent     │ accepted
 *     ▼                      ▼
 *   undecodable            deliver ── attempt, backoff, retry (policy) ──┐
 *                            │ 2xx                                      │ retries exhausted
 *                            ▼                                          │ or not retryable
 *                          reply? ── none / discard / TTL exhausted ─▶ done (delivered)
 *                            │ topic: append (durable) ─────────────▶ done (delivered)
 *                            │ url:   post, retried ─────────────────▶ done (delivered)
 *                            │        │ failed                          │
 *                            ▼        ▼                                 ▼
 *                          dead letter (policy) ──────────────────────▶ done (dead-lettered)
 *                            │ no sink, or the sink failed too
 *                            ▼
 *                          held: wait (capped exponential backoff), then one more attempt at
 *                          the subscriber and one at the sink, until one takes it. Never dropped.
 *
 * Unlike Knative's Kafka broker, which commits (drops) an event whose dead-letter delivery
 * failed, a held event keeps its offset uncommitted: in ordered mode its partition waits behind
 * it, in unordered mode the commit point stops below it (later events are redelivered after a
 * crash). Each held round is reported to the listener, which logs it (rate-limited).
 *
 * Undecodable (undecodable.ts): a record that is no CloudEvent — or any exception thrown while
 * handling one, outside the delivery rounds (which turn theirs into a held retry) — is wrapped in
 * a `dev.knative.kafka.broker.undecodable` event carrying the raw record and sent to the egress's
 * dead-letter sink; with no sink, or when the sink fails, it is appended to the quarantine topic
 * (quarantine.ts). Then it is done: garbage never stalls a partition, and never vanishes. Only when
 * the quarantine append itself fails (the log is down) is it retried, with the stall backoff.
 *
 * Cancellation (shutdown past its deadline, partition revoked, egress removed) aborts `signal`:
 * the record is then left not done, and whoever owns the partition next delivers it again.
 */

/** Everything the dispatch of one egress's records needs to know about the egress. */
export interface EgressRoute {
  readonly resource: Resource;
  readonly egress: Egress;
  /** The dead-letter sink from the effective delivery settings; null when there is none. */
  readonly deadLetter: string | null;
  readonly policy: RetryPolicy;
  readonly accepts: (event: CloudEvent) => boolean;
}

export interface Clock {
  now(): number;
  /** Resolves true after `ms`, or false as soon as `signal` is aborted. */
  sleep(ms: number, signal: AbortSignal): Promise<boolean>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<boolean>((resolve) => {
      if (signal.aborted) return resolve(false);
      const onAbort = (): void => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      }, Math.min(Math.max(0, ms), MAX_DELAY_MS));
      signal.addEventListener('abort', onAbort, { once: true });
    }),
};

export type DoneOutcome = 'delivered' | 'filtered' | 'dead-lettered' | 'undecodable';
export type ReplyOutcome = 'appended' | 'posted' | 'discarded' | 'ttl-exhausted';
export type StallReason = 'no-dead-letter-sink' | 'dead-letter-failed' | 'reply-append-failed' | 'internal-error' | 'quarantine-failed';
/** Where an undecodable record went. */
export type UndecodableDestination = 'dead-letter-sink' | 'quarantine';

export interface StallReport {
  readonly record: ConsumedRecord;
  readonly event: CloudEvent;
  /** 1 for the first time the event is held. */
  readonly round: number;
  readonly reason: StallReason;
  /** The failure that sent the event to the dead-letter step (subscriber or reply URL). */
  readonly failed?: LastFailure | undefined;
  /** The dead-letter sink's own failure, for `dead-letter-failed`. */
  readonly deadLetterFailed?: LastFailure | undefined;
  readonly error?: unknown;
  readonly delayMs: number;
}

/** Hears every outcome: the egress consumer counts them and logs the ones operators need. */
export interface DispatchListener {
  onDone(outcome: DoneOutcome, record: ConsumedRecord, detail?: { readonly error?: BrokerError; readonly failed?: LastFailure; readonly to?: UndecodableDestination }): void;
  onReply(outcome: ReplyOutcome, record: ConsumedRecord, detail?: { readonly ttl?: number; readonly destination?: string }): void;
  onRetry(info: { readonly destination: string; readonly attempt: number; readonly failure: AttemptFailure; readonly delayMs: number }): void;
  onStall(report: StallReport): void;
}

export interface DispatchDeps {
  readonly sender: Sender;
  readonly log: EventLog;
  readonly clock: Clock;
  readonly random: () => number;
  readonly stallBackoff: { readonly baseMs: number; readonly capMs: number };
  readonly listener: DispatchListener;
  /** Where undecodable records go when there is no dead-letter sink; default: the log's quarantine topic. */
  readonly quarantine?: Pick<Quarantine, 'put'>;
  /** The dispatcher-wide account of bytes held by waiting deliveries (waiting-memory.ts). */
  readonly waiting?: { hold(bytes: number): () => void } | undefined;
  /** OpenTelemetry spans (dispatcher/tracing.ts); without it the trace context is passed through. */
  readonly tracing?: Tracing | undefined;
}

export type DispatchResult = 'done' | 'aborted';

/**
 * Takes one record through the steps above. `route` is read again at each held round, so a
 * contract update (a dead-letter sink added, a destination fixed) reaches an event already held.
 * Never rejects.
 */
/**
 * The extension a re-delivered event carries after a rewind (dispatcher/rewind/): `true`, so that
 * subscribers may tell a replay from a first delivery. A valid attribute name (lower-case
 * alphanumerics, under the 20 characters the spec advises); the id and the rest stay the original's.
 */
export const REPLAY_EXTENSION = 'knativereplay';

export interface DispatchOptions {
  /** The record was delivered before and is delivered again because its egress was rewound. */
  readonly replay?: boolean;
}

export function dispatchRecord(record: ConsumedRecord, route: () => EgressRoute, deps: DispatchDeps, signal: AbortSignal, options: DispatchOptions = {}): Promise<DispatchResult> {
  let finished = false;
  const finish = (): void => {
    finished = true;
    record.done();
  };
  // Past the delivery rounds, which hold their own failures: a bug, or a decoder that threw.
  // Left as it is, the record would never be done and its partition's commit point stuck.
  const failed = (error: unknown): DispatchResult | Promise<DispatchResult> => {
    if (finished) return 'done';
    if (signal.aborted) return 'aborted';
    return settleUndecodable(record, handlingErrorOf(error, 'handling the record'), route, deps, signal, finish);
  };
  // Not async: a reaction on the delivery's promise costs less than another async frame per event.
  let result: DispatchResult | Promise<DispatchResult>;
  try {
    result = dispatchEvent(record, route, deps, signal, finish, options);
  } catch (error) {
    return Promise.resolve(failed(error));
  }
  return typeof result === 'string' ? Promise.resolve(result) : result.then(undefined, failed);
}

/**
 * Not async: the caller awaits what it returns (and catches what it throws), so an event takes no
 * extra promise and microtask turns here (issue 17: each async layer cost as much as a header).
 */
function dispatchEvent(record: ConsumedRecord, route: () => EgressRoute, deps: DispatchDeps, signal: AbortSignal, finish: () => void, options: DispatchOptions): DispatchResult | Promise<DispatchResult> {
  let decoded;
  try {
    // A KafkaSource's records are anyone's: converted, never refused (kafka-source-record.ts).
    const conversion = route().egress.recordConversion;
    decoded = conversion === undefined ? fromKafkaRecord(record) : sourceEventOf(record, conversion);
  } catch (error) {
    decoded = { ok: false as const, error: handlingErrorOf(error, 'decoding the record') };
  }
  if (!decoded.ok) return settleUndecodable(record, decoded.error, route, deps, signal, finish);
  const event = options.replay === true ? { ...decoded.event, attributes: { ...decoded.event.attributes, [REPLAY_EXTENSION]: true } } : decoded.event;
  const current = route();
  const trace = RecordTrace.of(deps.tracing?.tracer, record, event, current.resource, current.egress);
  const filterStart = trace.on ? spanStartTime() : 0;
  const matched = accepts(current, event);
  trace.filtered(matched, filterStart);
  if (!matched) {
    finish();
    deps.listener.onDone('filtered', record);
    return 'done';
  }

  return deliverUntilDone(record, event, trace, route, deps, signal, finish);
}

async function deliverUntilDone(
  record: ConsumedRecord, event: CloudEvent, trace: RecordTrace, route: () => EgressRoute, deps: DispatchDeps, signal: AbortSignal, finish: () => void,
): Promise<DispatchResult> {
  const waits = new WaitAccount(deps.waiting, record, event);
  try {
    for (let round = 0; ; round++) {
      let result: RoundResult;
      try {
        result = await deliverRound(record, event, trace, route(), deps, round, signal, waits);
      } catch (error) {
        result = { kind: 'held', reason: 'internal-error', error };
      }
      if (result.kind === 'done') {
        finish();
        deps.listener.onDone(result.outcome, record, result.failed === undefined ? undefined : { failed: result.failed });
        return 'done';
      }
      if (result.kind === 'aborted' || signal.aborted) return 'aborted';
      const heldRound = round + 1;
      const backoff = stallBackoffMs(heldRound, deps.stallBackoff.baseMs, deps.stallBackoff.capMs, deps.random);
      const asked = result.retryAfter ?? 0;
      const delayMs = Math.max(backoff, asked);
      deps.listener.onStall({
        record, event, round: heldRound, reason: result.reason, failed: result.failed,
        deadLetterFailed: result.deadLetterFailed, error: result.error, delayMs,
      });
      if (!(await waits.wait(deps.clock, delayMs, signal, keptBytes(result.failed) + keptBytes(result.deadLetterFailed)))) return 'aborted';
    }
  } finally {
    waits.release();
  }
}

/** One quarantine per log when the caller gives none (replays, tests). */
const defaultQuarantines = new WeakMap<EventLog, Quarantine>();

function quarantineOf(deps: DispatchDeps): Pick<Quarantine, 'put'> {
  if (deps.quarantine !== undefined) return deps.quarantine;
  let quarantine = defaultQuarantines.get(deps.log);
  if (quarantine === undefined) {
    quarantine = new Quarantine(deps.log);
    defaultQuarantines.set(deps.log, quarantine);
  }
  return quarantine;
}

/**
 * An undecodable record: to the dead-letter sink (round 0 under the egress's policy, one attempt
 * a round after), else to the quarantine; retried only while the quarantine cannot be written.
 */
async function settleUndecodable(record: ConsumedRecord, error: BrokerError, route: () => EgressRoute, deps: DispatchDeps, signal: AbortSignal, finish: () => void): Promise<DispatchResult> {
  const waits = new WaitAccount(deps.waiting, record);
  try {
    return await settleUndecodableRounds(record, error, route, deps, signal, finish, waits);
  } finally {
    waits.release();
  }
}

async function settleUndecodableRounds(
  record: ConsumedRecord, error: BrokerError, route: () => EgressRoute, deps: DispatchDeps, signal: AbortSignal, finish: () => void, waits: WaitAccount,
): Promise<DispatchResult> {
  for (let round = 0; ; round++) {
    let wrapped: CloudEvent | undefined;
    let to: UndecodableDestination = 'quarantine';
    try {
      const current = route();
      wrapped = undecodableEvent(record, error, current.resource, current.egress);
      if (current.deadLetter !== null) {
        const attempts = round === 0 ? 1 + current.policy.maxRetries : 1;
        // No spans for garbage; its dead letter still carries the record's context along.
        const request = plainRequest(current.deadLetter, wrapped, traceHeadersOfRecord(record.headers));
        const sent = await withRetries(request, attempts, current.policy, deps, signal, judgeAccepted, waits);
        if (sent.kind === 'aborted') return 'aborted';
        // The sink will not take it: quarantined rather than held, as nothing could ever deliver it.
        if (sent.kind === 'ok') to = 'dead-letter-sink';
      }
      if (to === 'quarantine') await quarantineOf(deps).put(wrapped);
    } catch (failure) {
      // The quarantine cannot be written (the log is down), or worse: try again, never drop.
      if (signal.aborted) return 'aborted';
      const delayMs = stallBackoffMs(round + 1, deps.stallBackoff.baseMs, deps.stallBackoff.capMs, deps.random);
      const event = wrapped ?? { attributes: { specversion: '1.0', id: `${record.topic}/${record.partition}/${record.offset}`, source: '/kafka-broker', type: 'undecodable' } };
      deps.listener.onStall({ record, event, round: round + 1, reason: 'quarantine-failed', error: failure, delayMs });
      if (!(await waits.wait(deps.clock, delayMs, signal, 0))) return 'aborted';
      continue;
    }
    finish();
    deps.listener.onDone('undecodable', record, { error, to });
    return 'done';
  }
}

type RoundResult =
  | { readonly kind: 'done'; readonly outcome: 'delivered' | 'dead-lettered'; readonly failed?: LastFailure }
  | { readonly kind: 'aborted' }
  | {
      readonly kind: 'held';
      readonly reason: StallReason;
      readonly failed?: LastFailure;
      readonly deadLetterFailed?: LastFailure;
      readonly error?: unknown;
      /** A Retry-After the last answer asked for (capped), in ms. */
      readonly retryAfter?: number;
    };

const DELIVERED: RoundResult = { kind: 'done', outcome: 'delivered' };

/**
 * Round 0 follows the egress's policy (1 + retry attempts at each destination); each held round
 * after it makes one attempt at the subscriber and one at the dead-letter sink.
 */
async function deliverRound(
  record: ConsumedRecord, event: CloudEvent, trace: RecordTrace, route: EgressRoute, deps: DispatchDeps, round: number, signal: AbortSignal, waits: WaitAccount,
): Promise<RoundResult> {
  const attempts = round === 0 ? 1 + route.policy.maxRetries : 1;
  const { egress, resource, policy } = route;
  // Off, each request carries the record's context as it is; on, each attempt its own span's.
  const passThrough = trace.on ? undefined : trace.context;

  // deliver (the request unnamed: withRetries alone holds it, and makes it own its bytes when it waits)
  const delivered = await withRetries(subscriberRequest(event, egress, passThrough), attempts, policy, deps, signal, judgeSubscriberResponse, waits, { trace, name: 'deliver', parent: trace.context });
  if (delivered.kind === 'aborted') return delivered;

  let failed: LastFailure;
  if (delivered.kind === 'ok') {
    // reply
    const reply = delivered.value;
    if (reply === undefined) return DELIVERED;
    const replied = await forwardReply(reply, event, record, route, deps, attempts, signal, waits, trace, delivered.context);
    if (replied.kind !== 'failed') return replied.kind === 'aborted' ? replied : DELIVERED;
    failed = replied.last;
  } else {
    failed = delivered.last;
  }

  // dead letter
  if (route.deadLetter === null) return { kind: 'held', reason: 'no-dead-letter-sink', failed, ...retryAfterOf(failed, policy, deps) };
  const sent = await withRetries(plainRequest(route.deadLetter, deadLetterEvent(event, failed, resource, egress), passThrough), attempts, policy, deps, signal, judgeAccepted, waits, { trace, name: 'dead-letter', parent: trace.context });
  if (sent.kind === 'aborted') return sent;
  if (sent.kind === 'ok') return { kind: 'done', outcome: 'dead-lettered', failed };
  return { kind: 'held', reason: 'dead-letter-failed', failed, deadLetterFailed: sent.last, ...retryAfterOf(sent.last, policy, deps) };
}

/**
 * The subscriber's request: the event without its TTL, in the egress's content mode, with the
 * W3C `traceparent` / `tracestate` headers of `trace` (the distributed-tracing extension, if
 * the event has one, stays an attribute: `ce-traceparent` or a member of the JSON).
 */
function subscriberRequest(event: CloudEvent, egress: Egress, trace: TraceHeaders | undefined): HttpRequest {
  // Binary mode leaves the TTL out as it encodes, rather than copying the event without it.
  const encoded = egress.contentMode === 'structured' ? encodeHttpStructured(withoutTtl(event)) : encodeHttpBinary(event, TTL_ATTRIBUTE);
  const headers = encoded.headers;
  headers['prefer'] = 'reply';
  setTraceHeaders(headers, trace);
  // A reply is read whole (up to the limit); of a failure only what knativeerrordata carries.
  return { url: egress.destination, headers, body: encoded.body, keepResponseBytes: KEEP_REPLY };
}

const KEEP_REPLY = { success: Number.MAX_SAFE_INTEGER, failure: ERROR_DATA_MAX_BYTES };
const KEEP_NOTHING = { success: 0, failure: ERROR_DATA_MAX_BYTES };

function plainRequest(url: string, event: CloudEvent, trace: TraceHeaders | undefined): HttpRequest {
  const encoded = encodeHttpBinary(event);
  setTraceHeaders(encoded.headers, trace);
  // A sink's or reply URL's answer is never used on success.
  return { url, headers: encoded.headers, body: encoded.body, keepResponseBytes: KEEP_NOTHING };
}

/**
 * The request with an attempt's trace context. The first attempt's request was built for it
 * (subscriberRequest, plainRequest: headers of its own, no trace headers yet), so it takes the
 * context in place: no copy of the request and its headers per delivery. A later attempt gets
 * a copy, so that each attempt's request keeps the context it was sent with.
 */
function withTrace(request: HttpRequest, trace: TraceHeaders | undefined, attempt: number): HttpRequest {
  if (trace === undefined) return request;
  if (attempt === 1) {
    setTraceHeaders(request.headers as Record<string, string>, trace);
    return request;
  }
  const headers = { ...request.headers };
  // The first attempt's tracestate, if its context had one and this one has none.
  if (trace.tracestate === undefined) delete headers[TRACESTATE];
  setTraceHeaders(headers, trace);
  return { ...request, headers };
}

type Judged<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly failure: AttemptFailure; readonly body?: Buffer };

/** A subscriber's answer: 2xx is success, carrying a reply event or not; a bad reply is a failure. */
function judgeSubscriberResponse(result: AttemptResult & { kind: 'response' }): Judged<CloudEvent | undefined> {
  if (!isSuccess(result.status)) return statusFailure(result);
  // A 202 is never a reply (reply.ts); asking first leaves its headers unread, as bytes (delivery.ts).
  if (result.status === 202) return NO_REPLY;
  // Without either header that makes a message a CloudEvent (isHttpCloudEvent), no reply: asked of
  // the bytes, a plain 200's headers are never made strings (~3 % of a delivery's CPU).
  if (result.has !== undefined && !result.has('ce-specversion') && !result.has('content-type')) return NO_REPLY;
  const reply = replyOf(result.status, result.headers, result.body, result.truncated);
  switch (reply.kind) {
    case 'none':
      return NO_REPLY;
    case 'reply':
      return { ok: true, value: reply.event };
    case 'invalid':
      return { ok: false, failure: { kind: 'invalid-reply', status: result.status, reason: reply.reason }, body: errorData(result.body) };
    default: {
      const never: never = reply;
      return never;
    }
  }
}

/** A dead-letter sink's or reply URL's answer: 2xx is success; what it sends back is ignored. */
function judgeAccepted(result: AttemptResult & { kind: 'response' }): Judged<undefined> {
  return isSuccess(result.status) ? NO_REPLY : statusFailure(result);
}

const NO_REPLY: Judged<undefined> = { ok: true, value: undefined };

function statusFailure(result: AttemptResult & { kind: 'response' }): Judged<never> {
  return { ok: false, failure: { kind: 'status', status: result.status, retryAfter: result.headers['retry-after'] }, body: errorData(result.body) };
}

/**
 * The part of a failed response that is kept while the event waits: what `knativeerrordata`
 * carries, copied so that a larger body (a rejected reply, up to maxResponseBytes) can be freed.
 */
function errorData(body: Buffer): Buffer {
  return body.length <= ERROR_DATA_MAX_BYTES ? ownBytes(body) : Buffer.from(body.subarray(0, ERROR_DATA_MAX_BYTES));
}

const isSuccess = (status: number): boolean => status >= 200 && status < 300;

type Attempted<T> =
  /** `context`: the successful attempt's trace context (its span's, or the pass-through one). */
  | { readonly kind: 'ok'; readonly value: T; readonly context: TraceHeaders | undefined }
  | { readonly kind: 'failed'; readonly last: LastFailure }
  | { readonly kind: 'aborted' };

/** Which span each attempt gets (tracing on), continuing `parent`. */
interface AttemptTracing {
  readonly trace: RecordTrace;
  readonly name: 'deliver' | 'dead-letter' | 'reply';
  readonly parent: TraceHeaders | undefined;
}

/** Up to `attempts` attempts of one request, waiting as the policy says between them. */
async function withRetries<T>(
  request: HttpRequest,
  attempts: number,
  policy: RetryPolicy,
  deps: DispatchDeps,
  signal: AbortSignal,
  judge: (result: AttemptResult & { kind: 'response' }) => Judged<T>,
  waits: WaitAccount,
  traced?: AttemptTracing,
): Promise<Attempted<T>> {
  for (let attempt = 1; ; attempt++) {
    const span = traced?.trace.attempt(traced.name, traced.parent, request.url, attempt);
    const result = await deps.sender.send(span === undefined ? request : withTrace(request, span.headers, attempt), policy.timeoutMs, signal);
    span?.end(result);
    let judged: Judged<T>;
    switch (result.kind) {
      case 'aborted':
        return { kind: 'aborted' };
      case 'response':
        judged = judge(result);
        break;
      case 'timeout':
        judged = { ok: false, failure: { kind: 'timeout' } };
        break;
      case 'network':
        judged = { ok: false, failure: { kind: 'network', message: result.message } };
        break;
      default: {
        const never: never = result;
        return never;
      }
    }
    if (judged.ok) return { kind: 'ok', value: judged.value, context: span === undefined ? traced?.parent : span.headers };
    const last: LastFailure = { destination: request.url, failure: judged.failure, body: judged.body };
    if (attempt >= attempts || !policy.shouldRetry(judged.failure)) return { kind: 'failed', last };
    const delayMs = policy.delayBeforeRetryMs(attempt, judged.failure, deps.clock.now());
    deps.listener.onRetry({ destination: request.url, attempt, failure: judged.failure, delayMs });
    // Sent again after the wait: from bytes of its own, not a view of the whole fetch.
    request = waits.ownRequest(request);
    if (!(await waits.wait(deps.clock, delayMs, signal, keptBytes(last)))) return { kind: 'aborted' };
  }
}

type Forwarded = { readonly kind: 'forwarded' } | { readonly kind: 'failed'; readonly last: LastFailure } | { readonly kind: 'aborted' };

/**
 * Sends a reply on, by the egress's reply strategy. For `topic` the append is retried (held,
 * with the stall backoff) until the log takes it: the original event is not done before its
 * reply is durable, and redelivering to the subscriber would only make more replies.
 */
async function forwardReply(
  reply: CloudEvent, original: CloudEvent, record: ConsumedRecord, route: EgressRoute, deps: DispatchDeps, attempts: number, signal: AbortSignal, waits: WaitAccount,
  trace: RecordTrace, parent: TraceHeaders | undefined,
): Promise<Forwarded> {
  const strategy = route.egress.reply;
  if (strategy.kind === 'discard') {
    deps.listener.onReply('discarded', record);
    return { kind: 'forwarded' };
  }
  const stamped = stampReply(reply, original);
  if (stamped.kind === 'ttl-exhausted') {
    deps.listener.onReply('ttl-exhausted', record, { ttl: stamped.ttl });
    return { kind: 'forwarded' };
  }
  switch (strategy.kind) {
    case 'topic': {
      const topic = route.resource.topics[0];
      if (topic === undefined) throw new Error(`resource ${route.resource.uid} has no topic to append replies to`);
      const mode = route.resource.ingress?.contentMode ?? 'binary';
      // The reply's record continues the delivery that returned it (pass-through: the original's context).
      const untraced = trace.on ? undefined : toKafkaRecord(stamped.event, mode, parent);
      for (let round = 1; ; round++) {
        const span = trace.replyAppend(parent, topic);
        try {
          await deps.log.append(topic, [untraced ?? toKafkaRecord(stamped.event, mode, span?.headers)]);
          span?.end();
          deps.listener.onReply('appended', record, { ttl: stamped.ttl, destination: topic });
          return { kind: 'forwarded' };
        } catch (error) {
          span?.end(error);
          if (signal.aborted) return { kind: 'aborted' };
          const delayMs = stallBackoffMs(round, deps.stallBackoff.baseMs, deps.stallBackoff.capMs, deps.random);
          deps.listener.onStall({ record, event: original, round, reason: 'reply-append-failed', error, delayMs });
          if (!(await waits.wait(deps.clock, delayMs, signal, 0))) return { kind: 'aborted' };
        }
      }
    }
    case 'url': {
      const request = plainRequest(strategy.url, stamped.event, trace.on ? undefined : parent);
      const posted = await withRetries(request, attempts, route.policy, deps, signal, judgeAccepted, waits, { trace, name: 'reply', parent });
      if (posted.kind === 'ok') {
        deps.listener.onReply('posted', record, { ttl: stamped.ttl, destination: strategy.url });
        return { kind: 'forwarded' };
      }
      return posted;
    }
    default: {
      const never: never = strategy;
      return never;
    }
  }
}

function retryAfterOf(last: LastFailure, policy: RetryPolicy, deps: DispatchDeps): { retryAfter?: number } {
  const asked = retryAfterMs(last.failure, deps.clock.now());
  if (asked === undefined) return {};
  return { retryAfter: policy.retryAfterMaxMs === null ? asked : Math.min(asked, policy.retryAfterMaxMs) };
}

/**
 * A record's share of the dispatcher's waiting memory. From its first wait (backoff, Retry-After,
 * held round) until it is done or abandoned, its bytes and the response bytes kept for its dead
 * letter count as waiting, attempts in between included: counting only the sleeps would let the
 * bound lapse whenever retries that started together are sent together.
 */
class WaitAccount {
  private releaseHeld: (() => void) | undefined;
  private held = 0;

  /** Measured at the first wait: most records are delivered without one. */
  private recordBytes: number | undefined;

  constructor(
    private readonly memory: DispatchDeps['waiting'],
    private readonly record: ConsumedRecord,
    /** The record's event, created by this dispatch: its data may be a view of the record's bytes. */
    private readonly event?: CloudEvent,
  ) {}

  /**
   * At the first wait, the record and its event come to own their bytes (core/owned-bytes.ts): a
   * record read from a Fetch response is views of the whole response, which one waiting record
   * would otherwise keep alive (up to ~1 MiB for a value of a few bytes). Done here, not as a
   * record is decoded, so that a delivery that never waits copies nothing.
   */
  private detach(): number {
    if (this.recordBytes !== undefined) return this.recordBytes;
    const value = this.record.value;
    let bytes = 0;
    try {
      this.record.detach?.();
      bytes = recordBytes(this.record);
      const data = this.event?.data;
      if (data !== undefined) {
        // The same bytes as the record's value (binary mode): share its copy; else one of its own.
        const owned = data === value ? this.record.value ?? ownBytes(data) : ownBytes(data);
        if (owned !== this.record.value) bytes += owned.length;
        // In place: this one event object is what every step of the delivery (and its trace) holds.
        (this.event as { data?: Buffer }).data = owned;
      }
    } catch {
      // A malformed record (the undecodable path) keeps what it has: waiting must not throw.
    }
    return (this.recordBytes = bytes);
  }

  /** `request`, sent again after a wait, with a body of its own: the event's copy when it is the event's data. */
  ownRequest(request: HttpRequest): HttpRequest {
    const viewed = this.event?.data;
    this.detach();
    const body = request.body === undefined ? undefined : request.body === viewed ? this.event?.data : ownBytes(request.body);
    return body === request.body ? request : { ...request, body };
  }

  async wait(clock: Clock, ms: number, signal: AbortSignal, keptBytes: number): Promise<boolean> {
    const bytes = this.detach() + keptBytes;
    if (this.memory !== undefined && (this.releaseHeld === undefined || bytes !== this.held)) {
      // Hold the new amount before letting go of the old, so the total never dips in between.
      const previous = this.releaseHeld;
      this.releaseHeld = this.memory.hold(bytes);
      this.held = bytes;
      previous?.();
    }
    return clock.sleep(ms, signal);
  }

  release(): void {
    this.releaseHeld?.();
    this.releaseHeld = undefined;
  }
}

/**
 * The bytes a waiting record keeps alive: its value, key and headers. It runs on records that may
 * be malformed (the undecodable path), so it never throws: what it cannot measure counts as 0.
 */
function recordBytes(record: ConsumedRecord): number {
  try {
    let n = (record.value?.length ?? 0) + (record.key?.length ?? 0);
    for (const [name, value] of Object.entries(record.headers)) n += name.length + (value?.length ?? 0);
    return n;
  } catch {
    return 0;
  }
}

function keptBytes(failure: LastFailure | undefined): number {
  return failure?.body?.length ?? 0;
}

function accepts(route: EgressRoute, event: CloudEvent): boolean {
  try {
    return route.accepts(event);
  } catch {
    // A filter that throws matches nothing (Knative: an evaluation error is a non-match).
    return false;
  }
}
