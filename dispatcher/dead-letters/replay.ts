import type { CloudEvent } from '../../core/cloudevents/event.js';
import { toKafkaRecord } from '../../core/cloudevents/kafka-binding.js';
import { effectiveEgressConfig, type Egress, type Resource } from '../../core/contract/types.js';
import type { ConsumedRecord, EventLog } from '../../core/event-log/port.js';
import type { Sender } from '../delivery.js';
import { dispatchRecord, type Clock, type DispatchListener, type EgressRoute, type StallReason } from '../dispatch.js';
import { ERROR_EXTENSIONS, type LastFailure } from '../error-extensions.js';
import { policyFrom } from '../retry-policy.js';
import type { FailedFor } from './types.js';

/**
 * Sending one dead letter again, through the dispatcher's own pipeline (dispatch.ts): the same
 * encoding, attempts, backoff, Retry-After handling, reply handling and dead-lettering as live
 * traffic, with the egress's current settings. Nothing here decides how to deliver; it only builds
 * the route and reads the outcome.
 *
 * Two differences from live dispatch, both because a person asked for this one event:
 *  - the egress's filter is not applied (the event passed it when it first failed);
 *  - an event that can be neither delivered nor dead-lettered is not held: after the first held
 *    round the replay stops and reports the failure (live dispatch keeps the offset and retries).
 */

/** A replayed event goes without the extensions that describe its failure. */
export function withoutErrorMarks(event: CloudEvent): CloudEvent {
  const attributes = { ...event.attributes };
  for (const name of ERROR_EXTENSIONS) delete attributes[name];
  return event.data === undefined ? { attributes } : { attributes, data: event.data };
}

export interface ReplayDeps {
  readonly sender: Sender;
  readonly log: EventLog;
  readonly clock: Clock;
  readonly random: () => number;
  readonly defaultTimeoutMs: number;
}

export type ReplayOutcome =
  | { readonly kind: 'delivered' }
  /** Delivery failed again; the event went to the egress's dead-letter sink with fresh marks. */
  | { readonly kind: 'dead-lettered'; readonly failed: LastFailure | undefined }
  | { readonly kind: 'failed'; readonly message: string };

/** The trigger or subscription a dead letter failed for, as the contract now defines it. */
export function findEgress(resources: readonly Resource[], failedFor: FailedFor): { resource: Resource; egress: Egress } | undefined {
  for (const resource of resources) {
    for (const egress of resource.egresses) {
      const r = egress.reference;
      if (r.kind === failedFor.kind && r.namespace === failedFor.namespace && r.name === failedFor.name) return { resource, egress };
    }
  }
  return undefined;
}

/** The route of an egress of the current contract, as live dispatch builds it, minus the filter. */
export function egressRoute(resource: Resource, egress: Egress, defaultTimeoutMs: number): EgressRoute {
  const settings = effectiveEgressConfig(resource, egress);
  return { resource, egress, deadLetter: settings?.deadLetter ?? null, policy: policyFrom(settings, { timeoutMs: defaultTimeoutMs }), accepts: () => true };
}

/**
 * A route to a URL given by the operator (`--to`): the failed-for egress's retry settings when it
 * still exists (one attempt otherwise), replies discarded, and no dead-letter sink — a failure is
 * reported back rather than dead-lettered again.
 */
export function urlRoute(url: string, base: { resource: Resource; egress: Egress } | undefined, sinkResource: Resource, defaultTimeoutMs: number): EgressRoute {
  const settings = base === undefined ? null : effectiveEgressConfig(base.resource, base.egress);
  const resource = base?.resource ?? sinkResource;
  const egress: Egress = {
    uid: `replay-to-${url}`,
    reference: base?.egress.reference ?? { kind: 'Replay', namespace: resource.reference.namespace, name: 'to-url', uid: `replay-to-${url}` },
    consumerGroup: '',
    destination: url,
    reply: { kind: 'discard' },
    filter: null,
    deliveryOrder: 'unordered',
    contentMode: base?.egress.contentMode ?? 'binary',
    egressConfig: settings === null ? null : { ...settings, deadLetter: null },
  };
  return { resource, egress, deadLetter: null, policy: policyFrom(settings, { timeoutMs: defaultTimeoutMs }), accepts: () => true };
}

/** Where the dead letter came from, for the pipeline's logs and trace headers. */
export interface ReplaySource {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly timestamp: number;
}

export async function replayEvent(event: CloudEvent, route: EgressRoute, source: ReplaySource, deps: ReplayDeps, signal: AbortSignal): Promise<ReplayOutcome> {
  const encoded = toKafkaRecord(event, 'binary');
  const record: ConsumedRecord = {
    topic: source.topic,
    partition: source.partition,
    offset: source.offset,
    timestamp: source.timestamp,
    key: encoded.key ?? null,
    value: encoded.value,
    headers: encoded.headers ?? {},
    done: () => undefined,
  };
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  let done: 'delivered' | 'dead-lettered' | 'filtered' | 'undecodable' | undefined;
  let failed: LastFailure | undefined;
  let held: { reason: StallReason; failed?: LastFailure | undefined; deadLetterFailed?: LastFailure | undefined; error?: unknown } | undefined;
  const listener: DispatchListener = {
    onDone: (outcome, _record, detail) => {
      done = outcome;
      failed = detail?.failed;
    },
    onReply: () => undefined,
    onRetry: () => undefined,
    onStall: (report) => {
      // Held: live dispatch would wait and try again forever; a replay reports back instead.
      held = { reason: report.reason, failed: report.failed, deadLetterFailed: report.deadLetterFailed, error: report.error };
      stop.abort();
    },
  };
  try {
    await dispatchRecord(record, () => route, {
      sender: deps.sender,
      log: deps.log,
      clock: deps.clock,
      random: deps.random,
      stallBackoff: { baseMs: 1, capMs: 1 },
      listener,
    }, stop.signal);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  if (done === 'delivered') return { kind: 'delivered' };
  if (done === 'dead-lettered') return { kind: 'dead-lettered', failed };
  if (done !== undefined) return { kind: 'failed', message: `the event could not be decoded for delivery (${done})` };
  if (held !== undefined) return { kind: 'failed', message: heldMessage(held) };
  return { kind: 'failed', message: 'the replay was interrupted (shutting down)' };
}

function heldMessage(held: { reason: StallReason; failed?: LastFailure | undefined; deadLetterFailed?: LastFailure | undefined; error?: unknown }): string {
  const why = (last: LastFailure | undefined): string => (last === undefined ? 'failed' : `${last.destination}: ${describeFailure(last)}`);
  switch (held.reason) {
    case 'no-dead-letter-sink':
      return `delivery failed (${why(held.failed)}) and there is no dead-letter sink to take it`;
    case 'dead-letter-failed':
      return `delivery failed (${why(held.failed)}) and so did the dead-letter sink (${why(held.deadLetterFailed)})`;
    case 'reply-append-failed':
      return `delivered, but its reply could not be appended to the broker's topic: ${messageOf(held.error)}`;
    case 'internal-error':
      return `internal error: ${messageOf(held.error)}`;
    case 'quarantine-failed':
      return `the record could not be decoded, and could not be quarantined: ${messageOf(held.error)}`;
    default: {
      const never: never = held.reason;
      return never;
    }
  }
}

export function describeFailure(last: LastFailure): string {
  const f = last.failure;
  switch (f.kind) {
    case 'status':
      return `HTTP ${f.status}`;
    case 'invalid-reply':
      return `HTTP ${f.status} with an invalid reply (${f.reason})`;
    case 'timeout':
      return 'timed out';
    case 'network':
      return f.message;
    default: {
      const never: never = f;
      return never;
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
