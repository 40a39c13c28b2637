import type { RewindOutcome } from '../core/rewind.js';

/**
 * The Kubernetes-shaped objects the controller reads, as every source hands them over: an
 * envelope the source has already checked (apiVersion, kind, metadata.name, a namespace, a uid, a
 * generation) around a `spec` the controller has not checked yet. The controller never learns
 * where an object came from (a folder of manifests, the Kubernetes API).
 */

export const EVENTING_GROUP = 'eventing.knative.dev';
export const EVENTING_V1 = `${EVENTING_GROUP}/v1`;
/** Knative's channels and subscriptions: Channel, Subscription, KafkaChannel, InMemoryChannel. */
export const MESSAGING_GROUP = 'messaging.knative.dev';
export const MESSAGING_V1 = `${MESSAGING_GROUP}/v1`;
/** KafkaChannel's storage version (eventing-kafka-broker serves v1 too, converting). */
export const MESSAGING_V1BETA1 = `${MESSAGING_GROUP}/v1beta1`;
/** Knative's defaulting webhook stamps channels with the subscribable duck version they speak. */
export const SUBSCRIBABLE_DUCK_ANNOTATION = 'messaging.knative.dev/subscribable';

/** Knative's broker class annotation; only brokers of our class are reconciled here. */
export const BROKER_CLASS_ANNOTATION = 'eventing.knative.dev/broker.class';
export const KAFKA_BROKER_CLASS = 'Kafka';
/** Knative Kafka: the broker uses this existing topic instead of creating (and owning) one. */
export const EXTERNAL_TOPIC_ANNOTATION = 'kafka.eventing.knative.dev/external.topic';
/** Knative Kafka: a trigger's `ordered` (per partition, one at a time) or `unordered` delivery. */
export const DELIVERY_ORDER_ANNOTATION = 'kafka.eventing.knative.dev/delivery.order';

export interface ObjectMeta {
  readonly name: string;
  /** Always set: sources default a missing namespace to `default`, as kubectl does. */
  readonly namespace: string;
  /** Always set: the API server's uid, or for manifests a uid derived from kind/namespace/name. */
  readonly uid: string;
  /** Always set: bumped by the source every time the object's spec changes. */
  readonly generation: number;
  /** RFC 3339; when the source first saw the object. */
  readonly creationTimestamp: string;
  readonly annotations: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  /** Set on objects the controller generates (a Channel's backing channel), as Kubernetes has it. */
  readonly ownerReferences?: readonly OwnerReference[];
}

/** Kubernetes `metav1.OwnerReference`. */
export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly controller?: boolean;
  readonly blockOwnerDeletion?: boolean;
}

export interface KnObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ObjectMeta;
  /** Unchecked: the controller validates it the way Knative's admission webhook would. */
  readonly spec?: unknown;
  /** ConfigMaps carry `data` instead of a spec. */
  readonly data?: unknown;
  /**
   * What a source that keeps status (the Kubernetes API) holds for a Trigger's rewinds: those
   * recorded in `status.rewinds`, and who last wrote its rewind annotation. Absent from sources
   * that keep no status (manifests), where the rewind annotations are not acted on.
   */
  readonly recorded?: RecordedRewinds;
}

export interface RecordedRewinds {
  readonly rewinds: readonly RewindOutcome[];
  /** The field manager that last wrote the rewind annotation (`metadata.managedFields`). */
  readonly requestedBy?: string;
}

/** The key that names an object everywhere in the controller: `Kind/namespace/name`. */
export type ObjectKey = string;

export const objectKey = (kind: string, namespace: string, name: string): ObjectKey => `${kind}/${namespace}/${name}`;
export const keyOf = (object: KnObject): ObjectKey => objectKey(object.kind, object.metadata.namespace, object.metadata.name);

/** The API group of an apiVersion (`eventing.knative.dev/v1` -> `eventing.knative.dev`; `v1` -> ``). */
export function apiGroup(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** Key order: the order in which objects are admitted and claim names, whatever order the source gave them in. */
export function compareKeys(a: ObjectKey, b: ObjectKey): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
