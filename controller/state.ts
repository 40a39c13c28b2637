import type { ClusterRef, Resource } from '../core/contract/types.js';
import type { EgressFault } from '../core/egress-faults.js';
import type { RewindOutcome } from '../core/rewind.js';
import type { StartPosition, TopicSpec } from '../core/event-log/port.js';
import type { AdmissionDefaults } from './kinds/admission.js';
import type { ObjectStatus } from './status.js';
import type { KnObject, ObjectKey } from './resources.js';

/**
 * The controller's three kinds of state:
 *  - what the source says (objects: `KnObject[]`);
 *  - what the controller has seen happen in the event log (`Observed`), kept between passes;
 *  - what should be (`DesiredState`), computed from the two by the pure `computeDesired`.
 */

/** Knative's `default-authorization-mode`: who may send to a broker no EventPolicy selects. */
export type AuthorizationMode = 'allow-all' | 'allow-same-namespace' | 'deny-all';

export interface ReconcileSettings {
  /** Base URL of the broker ingress; a broker's address is this plus `/<namespace>/<name>`. */
  readonly ingressUrl: string;
  /** Topic settings for brokers without a `spec.config` ConfigMap that sets them (Knative Kafka: default.topic.*). */
  readonly topicPartitions: number;
  readonly topicReplicationFactor: number;
  /** Applied to delivery settings that leave the backoff delay out. */
  readonly defaultBackoffDelayMs: number;
  readonly admission: AdmissionDefaults;
  /**
   * The Kafka cluster the event log writes to; absent or empty for the in-memory log. A resource
   * that names another (a KafkaSink's `spec.bootstrapServers`) gets a client of its own.
   */
  readonly kafkaBootstrapServers?: readonly string[];
  /**
   * OIDC sender authentication (Knative's `authentication-oidc` feature): brokers get an audience
   * and the ingress enforces EventPolicies; `defaultMode` applies where no policy selects a broker.
   */
  readonly oidc?: { readonly defaultMode: AuthorizationMode };
  /**
   * Where the controller's own ConfigMaps live (KafkaChannels' `kafka-channel-config`); absent:
   * `knative-eventing`, as in Knative.
   */
  readonly systemNamespace?: string;
  /** The ingress's HTTPS base URL and the PEM CA(s) that sign its certificate, for `status.address`. */
  readonly ingressHttps?: { readonly url: string; readonly caCerts?: string };
}

/** Where a topic or group lives, when not on the controller's own cluster (so that deleting it goes there too). */
export interface OnCluster {
  readonly cluster?: ClusterRef;
}

export type TopicObservation = OnCluster & (
  | { readonly state: 'ready'; readonly partitions: number; readonly owner: ObjectKey; readonly external: boolean }
  | { readonly state: 'missing'; readonly owner: ObjectKey; readonly external: true }
  | {
      readonly state: 'failed'; readonly error: string; readonly owner: ObjectKey; readonly external: boolean;
      /** The BrokerError code of the failure, when it had one (KAFKA_AUTH_FAILED, KAFKA_TLS_FAILED, ...). */
      readonly code?: string;
    });

export type GroupObservation = OnCluster & (
  | { readonly state: 'ready'; readonly topic: string; readonly owner: ObjectKey }
  | { readonly state: 'failed'; readonly topic: string; readonly owner: ObjectKey; readonly error: string });

/** The data-plane processes that report what they run (controller/data-plane-reports.ts). */
export type DataPlaneRole = 'ingress' | 'dispatcher';

export type DataPlaneObservation = { readonly available: true } | { readonly available: false; readonly message: string };

/** What the controller learnt from the event log; only the apply step (apply-topics.ts) writes it. */
export interface Observed {
  readonly topics: ReadonlyMap<string, TopicObservation>;
  readonly groups: ReadonlyMap<string, GroupObservation>;
  readonly dataPlane: DataPlaneObservation;
  /**
   * Per contract resource (by uid): whether the data-plane processes that reported have applied the
   * generation that carries it (controller/data-plane-reports.ts); absent when none report.
   */
  readonly dataPlaneOf?: (uid: string, roles: readonly DataPlaneRole[]) => DataPlaneObservation;
  /** What the dispatcher reported per consumer group (records skipped); none when it cannot be asked. */
  readonly egressFaults?: ReadonlyMap<string, EgressFault>;
  /** What became of the rewinds the contract asked for, per consumer group (core/rewind.ts). */
  readonly rewindOutcomes?: ReadonlyMap<string, readonly RewindOutcome[]>;
}

export interface DesiredTopic extends OnCluster {
  readonly name: string;
  readonly owner: ObjectKey;
  /** External topics are checked, never created or deleted. */
  readonly external: boolean;
  readonly spec: TopicSpec;
}

export interface DesiredGroup extends OnCluster {
  readonly group: string;
  readonly topic: string;
  readonly owner: ObjectKey;
  /** More topics the group reads (a KafkaSource's), positioned like `topic`; readiness waits for all. */
  readonly moreTopics?: readonly string[];
  /** Where a new group starts; default 'latest' (a KafkaSource's `spec.initialOffset`). */
  readonly start?: StartPosition;
}

export interface DesiredState {
  /** The last admitted version of every object, the baseline for immutable fields next time. */
  readonly admitted: ReadonlyMap<ObjectKey, KnObject>;
  readonly topics: readonly DesiredTopic[];
  /** Consumer groups whose starting offsets must be fixed before their triggers are Ready. */
  readonly groups: readonly DesiredGroup[];
  /** Topics this controller created whose broker is gone. */
  readonly obsoleteTopics: readonly string[];
  /** Consumer groups whose trigger is gone. */
  readonly obsoleteGroups: readonly string[];
  /** The contract's resources, sorted; the generation is added by the contract writer. */
  readonly resources: readonly Resource[];
  /** The status of every object this controller owns. */
  readonly statuses: ReadonlyMap<ObjectKey, ObjectStatus>;
  /**
   * Objects not Ready because another one is not (a Trigger's broker, a Subscription's channel),
   * and the reason at the root: the other one's. Their own Ready names only the link
   * (BrokerNotReady), its message the rest for a reader; this is the same as data.
   */
  readonly readyCauses: ReadonlyMap<ObjectKey, string>;
  /** Objects as `get` shows them: with Knative's defaults when admitted, as written when refused. */
  readonly objects: ReadonlyMap<ObjectKey, KnObject>;
  /** Objects left alone, and why (another broker class, a kind this controller does not handle). */
  readonly ignored: ReadonlyMap<ObjectKey, string>;
  /**
   * Objects the controller creates that the source does not hold: each Channel's backing channel.
   * `get` lists them; a source that can store objects (the Kubernetes API) may create them.
   */
  readonly generated: readonly KnObject[];
}

export const emptyObserved = (): Observed => ({ topics: new Map(), groups: new Map(), dataPlane: { available: true } });
