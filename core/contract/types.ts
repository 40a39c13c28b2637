import type { EgressRewind } from '../rewind.js';
import type { Filter } from '../filters/types.js';

/**
 * The data-plane contract: the one document the controller writes and the data plane reads.
 * Modelled on Knative Kafka broker's contract (a generation plus resources, each with an ingress
 * and egresses) so that each Knative resource maps onto it plainly:
 *
 *   Broker        -> Resource { ingress: /<ns>/<name>, topic knative-broker-<ns>-<name> }
 *   Trigger       -> Egress on its broker's resource, consumer group knative-trigger-<ns>-<name>
 *   KafkaChannel  -> Resource { ingress: /channels/<ns>/<name> }
 *   Subscription  -> Egress on its channel's resource
 *   KafkaSink     -> Resource { ingress: /sinks/<ns>/<name> } with no egresses
 *   KafkaSource   -> Resource { no ingress, topics: its topics (not ours) } with one egress that
 *                    converts records into CloudEvents (Egress.recordConversion)
 *
 * Durations are milliseconds (the controller converts Knative's ISO 8601 durations).
 */
export const CONTRACT_VERSION = 'kafka-broker.contract/v1' as const;

export interface Contract {
  readonly version: typeof CONTRACT_VERSION;
  /** Bumped by the controller every time it publishes a semantically different contract. */
  readonly generation: number;
  readonly resources: readonly Resource[];
}

export type ResourceKind = 'Broker' | 'KafkaChannel' | 'InMemoryChannel' | 'KafkaSink' | 'KafkaSource';

/** Which Knative object a contract entry stands for; for logs, status and dead-letter marks. */
export interface Reference {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export type ContentMode = 'binary' | 'structured';

export interface Ingress {
  /** The HTTP path the ingress serves for this resource, e.g. `/default/my-broker`. */
  readonly path: string;
  /** How events are written to the topic (Kafka binding); KafkaSink may ask for structured. */
  readonly contentMode: ContentMode;
  /**
   * OIDC sender authentication: requests need a token issued for this audience (Knative's
   * `status.address.audience`). Absent: no token is asked for.
   */
  readonly audience?: string;
  /**
   * With an audience: the EventPolicies that apply, each as the subjects it allows. Absent: no
   * policy selects the resource and any authenticated sender may publish; empty: none may.
   */
  readonly senders?: readonly SenderRule[];
}

/** One EventPolicy as the ingress applies it. */
export interface SenderRule {
  /** `<namespace>/<name>` of the EventPolicy, for logs and 403 bodies. */
  readonly policy: string;
  /** Token subjects allowed: exact, or a prefix ending in `*`. */
  readonly subjects: readonly string[];
  /**
   * The EventPolicy's `spec.filters` (as one `all`): what its subjects may send. Absent: anything.
   * A sender is allowed an event when some policy allows its subject and that policy's filter passes.
   */
  readonly filter?: Filter;
}

export interface Resource {
  readonly uid: string;
  readonly kind: ResourceKind;
  readonly reference: Reference;
  /** The topic(s) the ingress writes to (the first) and the egresses read from. */
  readonly topics: readonly string[];
  /** null when the resource has no HTTP ingress. */
  readonly ingress: Ingress | null;
  /** Delivery settings for egresses that have none of their own (a Broker's `spec.delivery`). */
  readonly egressConfig: EgressConfig | null;
  readonly egresses: readonly Egress[];
  /**
   * The Kafka cluster of this resource when it is not the process's own (a Broker's config
   * ConfigMap sets `bootstrap.servers` or `auth.secret.ref.name`); absent: the process's cluster.
   */
  readonly cluster?: ClusterRef;
}

/**
 * A Kafka cluster and which credentials reach it. Never the secret values: the data plane reads
 * them from files (`--kafka-auth-root <root>/<namespace>/<name>/<key>`), the controller from the
 * Secret itself.
 */
export interface ClusterRef {
  /** host:port, sorted. */
  readonly bootstrapServers: readonly string[];
  /** The Secret (Knative Kafka's keys, core/kafka-auth.ts) holding the credentials; null: PLAINTEXT. */
  readonly authSecret: { readonly namespace: string; readonly name: string } | null;
}

export type BackoffPolicy = 'linear' | 'exponential';

export interface EgressConfig {
  /** Extra attempts after the first. */
  readonly retry: number;
  readonly backoffPolicy: BackoffPolicy;
  readonly backoffDelayMs: number;
  /** Per-attempt timeout; null means the dispatcher's default. */
  readonly timeoutMs: number | null;
  /** Where events go when delivery fails for good; null means "keep retrying, never drop". */
  readonly deadLetter: string | null;
  /** Cap on how long a Retry-After header may delay the next attempt; null means no cap. */
  readonly retryAfterMaxMs: number | null;
}

/**
 * What happens to a subscriber's reply:
 *  - `topic`: appended to the resource's own topic (a broker: replies pass every trigger's filter);
 *  - `url`: posted to that address (a Subscription's `spec.reply`);
 *  - `discard`: dropped (a Subscription without `spec.reply`).
 */
export type ReplyStrategy =
  | { readonly kind: 'topic' }
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'discard' };

export type DeliveryOrder = 'ordered' | 'unordered';

export interface Egress {
  readonly uid: string;
  readonly reference: Reference;
  readonly consumerGroup: string;
  readonly destination: string;
  readonly reply: ReplyStrategy;
  /** null matches every event. */
  readonly filter: Filter | null;
  readonly deliveryOrder: DeliveryOrder;
  readonly contentMode: ContentMode;
  /** The egress's own delivery settings; they replace the resource's as a whole. */
  readonly egressConfig: EgressConfig | null;
  /**
   * Absent: every record is a CloudEvent written by us (a broker's or a channel's topic). Present:
   * records are not necessarily CloudEvents and are converted (a KafkaSource's topics).
   */
  readonly recordConversion?: RecordConversion;
  /**
   * OIDC (Knative `authentication-oidc`): the identity the egress presents to destinations that
   * have an audience. Absent: no token is sent anywhere.
   */
  readonly auth?: EgressAuth;
  /** A rewind or skip to apply once (Kubernetes mode: from the Trigger's annotations, core/rewind.ts). */
  readonly rewind?: EgressRewind;
}

/**
 * The egress's OIDC identity and the audiences of its destinations (Knative: a Destination's
 * `audience`, or the resolved address's). The dispatcher sends `Authorization: Bearer <token>` for
 * that audience to that destination; it gets the token from the controller (Kubernetes mode,
 * TokenRequest for `serviceAccount`) or from a file per audience (standalone).
 */
export interface EgressAuth {
  /** The service account whose tokens the egress presents (a Trigger's `status.auth.serviceAccountName`). */
  readonly serviceAccount: { readonly namespace: string; readonly name: string };
  readonly destinationAudience?: string;
  /** The audience of the dead-letter sink of the egress's own delivery settings. */
  readonly deadLetterAudience?: string;
}

/** How a KafkaSource's record key is read (Knative's `kafkasources.sources.knative.dev/key-type` label). */
export type KeyType = 'string' | 'int' | 'float' | 'byte-array';

/** An attribute set on every event (Knative `ceOverrides.extensions`); a list, since names come from users. */
export interface AttributeOverride {
  readonly name: string;
  readonly value: string;
}

/** The record-to-CloudEvent conversion of a KafkaSource (dispatcher/kafka-source-record.ts). */
export interface RecordConversion {
  readonly kind: 'kafka-source';
  /** The source's identity, which the converted events' `source` names. */
  readonly namespace: string;
  readonly name: string;
  readonly keyType: KeyType;
  readonly overrides: readonly AttributeOverride[];
}

/** The delivery settings that apply to an egress: its own, else its resource's, else none. */
export function effectiveEgressConfig(resource: Resource, egress: Egress): EgressConfig | null {
  return egress.egressConfig ?? resource.egressConfig;
}

export function emptyContract(generation = 0): Contract {
  return { version: CONTRACT_VERSION, generation, resources: [] };
}
