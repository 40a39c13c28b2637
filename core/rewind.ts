/**
 * Rewinds asked for through the contract (Kubernetes mode: a Trigger's annotations), and what the
 * dispatcher reports back. Here, in core, because the controller and the dispatcher share the
 * shapes and neither may import the other.
 *
 *   kubectl annotate trigger t kafka-broker.knative.dev/rewind-to=earliest
 *     controller: request {id, kind, to, who} on the trigger's egress, until status.rewinds has its id
 *     dispatcher: applies an id once ──report (POST /data-plane/faults)──▶ controller: status.rewinds, Event
 */

export type RewindKind = 'rewind' | 'skip';

/** The annotation naming where to move the trigger's group (as `triggers rewind --to` takes it). */
export const REWIND_TO_ANNOTATION = 'kafka-broker.knative.dev/rewind-to';
/** The same for a skip (a time or `latest`). */
export const SKIP_TO_ANNOTATION = 'kafka-broker.knative.dev/skip-to';
/** Any text; change it to move to the same place again (the request's id covers it). */
export const REWIND_ID_ANNOTATION = 'kafka-broker.knative.dev/rewind-id';

/** A move the controller asks the dispatcher for; applied once per `id`. */
export interface EgressRewind {
  readonly id: string;
  readonly kind: RewindKind;
  readonly to: string;
  /** Who asked, for the record (the annotation's last writer). */
  readonly who: string;
}

/** What the dispatcher did with a request. */
export interface RewindOutcome {
  readonly id: string;
  readonly kind: RewindKind;
  readonly state: 'done' | 'failed';
  readonly who: string;
  /** RFC 3339. */
  readonly at: string;
  /** The target as given; applied: as resolved (e.g. the time in UTC). */
  readonly to: string;
  /** Where the group was, `<partition>:<offset>,...` (empty when it failed before moving). */
  readonly from: string;
  readonly redelivered: number;
  readonly skipped: number;
  /** The contract generation the dispatcher ran when it applied the request. */
  readonly generation: number;
  /** Why it failed. */
  readonly message?: string;
}

/** Outcomes kept per trigger (dispatcher and status), newest last. */
export const MAX_REWIND_OUTCOMES = 10;
