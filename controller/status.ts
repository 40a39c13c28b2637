import type { RewindOutcome } from '../core/rewind.js';
/**
 * The status shapes the controller writes on each object (Knative's duck types), kept apart from
 * conditions.ts (which computes them) so that the state and source modules can name them
 * without importing the computation.
 */

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly reason?: string;
  readonly message?: string;
  /** RFC 3339; stamped by the controller when the status changes (see `stampTransitions`). */
  readonly lastTransitionTime?: string;
}

export interface ObjectStatus {
  readonly observedGeneration: number;
  readonly conditions: readonly Condition[];
  /**
   * Broker: where to send events; with HTTPS, the https URL and the CA that signs it (Knative's
   * transport encryption); with OIDC, the audience a sender's token must carry.
   */
  readonly address?: { readonly url: string; readonly CACerts?: string; readonly audience?: string };
  /** Broker: every address it is served at (http and https), as Knative's `status.addresses`. */
  readonly addresses?: readonly { readonly name: string; readonly url: string; readonly CACerts?: string; readonly audience?: string }[];
  /** Broker: the EventPolicies applied (Knative `status.policies`). */
  readonly policies?: readonly { readonly apiVersion: string; readonly name: string }[];
  /** EventPolicy: the subjects it allows, its `from.ref`s resolved (Knative `status.from`). */
  readonly from?: readonly string[];
  /** Trigger: its OIDC identity (Knative `status.auth`), with OIDC on. */
  readonly auth?: { readonly serviceAccountName: string };
  /** Trigger: the resolved subscriber. */
  readonly subscriberUri?: string;
  /** Trigger: the rewinds and skips its annotations asked for, newest last (core/rewind.ts). */
  readonly rewinds?: readonly RewindOutcome[];
  /** Broker and Trigger: the resolved dead-letter sink (a trigger's own, else its broker's). */
  readonly deadLetterSinkUri?: string;
  /** Channel: its backing channel (Knative `status.channel`). */
  readonly channel?: { readonly apiVersion: string; readonly kind: string; readonly name: string; readonly namespace: string };
  /** Channels: one entry per Subscription on the channel (Knative `SubscriberStatus`). */
  readonly subscribers?: readonly SubscriberStatus[];
  /** Subscription: the resolved destinations (Knative `status.physicalSubscription`). */
  readonly physicalSubscription?: { readonly subscriberUri?: string; readonly replyUri?: string; readonly deadLetterSinkUri?: string };
  /** KafkaSource (Knative `SourceStatus`): the resolved sink. */
  readonly sinkUri?: string;
  /** KafkaSource: consumers running in its group, and the label selector its scale subresource reports. */
  readonly consumers?: number;
  readonly selector?: string;
}

/** Knative `duckv1.SubscriberStatus`: whether the channel delivers to that Subscription yet. */
export interface SubscriberStatus {
  readonly uid: string;
  readonly observedGeneration: number;
  readonly ready: ConditionStatus;
  readonly message?: string;
}
