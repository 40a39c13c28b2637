import { formatFieldErrors, type FieldError } from './kinds/admission.js';
import type { Condition, ConditionStatus, ObjectStatus } from './status.js';
import type { DataPlaneObservation, DataPlaneRole, DesiredTopic, Observed } from './state.js';

/**
 * Status conditions as Knative users know them (knative.dev/pkg apis.Condition), and one function
 * per outcome, so that a status and the reason behind it cannot disagree.
 *
 * `Ready` is derived, never set by hand (Knative's "living" condition set): True when every
 * dependent condition is True; otherwise it copies the reason and message of the first False
 * dependent, or else of the first Unknown one. Dependents are listed root cause first, so that
 * `Ready`'s reason names what to fix (a missing topic rather than the missing address it causes).
 */

export type { Condition, ConditionStatus, ObjectStatus, SubscriberStatus } from './status.js';

export const BROKER_CONDITIONS = ['TopicReady', 'DeadLetterSinkResolved', 'DataPlaneAvailable', 'Addressable'] as const;
export const TRIGGER_CONDITIONS = ['BrokerReady', 'SubscriberResolved', 'DeadLetterSinkResolved', 'SubscriptionReady'] as const;
export type BrokerConditionType = (typeof BROKER_CONDITIONS)[number];
/** Knative Kafka's KafkaSink condition set, less what a single process has no use for (ConfigMapUpdated, ProbeSucceeded). */
export const SINK_CONDITIONS = ['TopicReady', 'DataPlaneAvailable', 'Addressable'] as const;
export type TriggerConditionType = (typeof TRIGGER_CONDITIONS)[number];
/** KafkaChannel and InMemoryChannel: the broker's set (Knative Kafka's channel adds Subscribers; see kinds/backing-channel.ts). */
export const CHANNELABLE_CONDITIONS = ['TopicReady', 'DeadLetterSinkResolved', 'DataPlaneAvailable', 'Addressable'] as const;
/** Channel: Knative's set, with its backing channel's TopicReady shown alongside. */
export const CHANNEL_CONDITIONS = ['BackingChannelReady', 'TopicReady', 'DeadLetterSinkResolved', 'Addressable'] as const;
/** Subscription: Knative's set (less OIDCIdentityCreated), root cause first. */
export const SUBSCRIPTION_CONDITIONS = ['ChannelReady', 'ReferencesResolved', 'AddedToChannel'] as const;

function cond(type: string, status: ConditionStatus, reason?: string, message?: string): Condition {
  const condition: { type: string; status: ConditionStatus; reason?: string; message?: string } = { type, status };
  if (reason !== undefined) condition.reason = reason;
  if (message !== undefined && message !== '') condition.message = message;
  return condition;
}

// ---- EventPolicy outcomes ----

export const subjectsResolved = (): Condition => cond('SubjectsResolved', 'True');
export const subjectsUnresolved = (message: string): Condition => cond('SubjectsResolved', 'False', 'SubjectsUnresolved', message);
export const eventPoliciesReady = (): Condition => cond('EventPoliciesReady', 'True');
export const eventPoliciesNotUsed = (): Condition => cond('EventPoliciesReady', 'True', 'OIDCDisabled', 'sender authentication is off: EventPolicies are not enforced');
export const defaultAuthorizationMode = (mode: string): Condition =>
  cond('EventPoliciesReady', 'True', 'DefaultAuthorizationMode', `no EventPolicy selects this broker; the default authorization mode applies (${mode})`);

// ---- Broker outcomes ----

export const topicCreated = (topic: string, partitions: number): Condition =>
  cond('TopicReady', 'True', 'TopicCreated', `topic ${topic} (${partitions} partitions)`);
export const externalTopicReady = (topic: string, partitions: number): Condition =>
  cond('TopicReady', 'True', 'ExternalTopic', `external topic ${topic} (${partitions} partitions); the broker neither creates nor deletes it`);
export const topicPending = (topic: string): Condition => cond('TopicReady', 'Unknown', 'TopicPending', `creating topic ${topic}`);
export const failedToCreateTopic = (topic: string, error: string): Condition =>
  cond('TopicReady', 'False', 'FailedToCreateTopic', `failed to create topic ${topic}: ${error}`);
/** Kafka refused our credentials or certificates: no retry helps until a setting changes, so the reason says which. */
export const kafkaSecurityFailed = (topic: string, code: 'KAFKA_AUTH_FAILED' | 'KAFKA_TLS_FAILED', error: string): Condition =>
  cond('TopicReady', 'False', code === 'KAFKA_AUTH_FAILED' ? 'KafkaAuthenticationFailed' : 'KafkaTLSFailed', `cannot use topic ${topic}: ${error}`);
/** The Secret named for the broker's Kafka credentials is missing or does not parse: the message names it and the key. */
export const kafkaAuthSecretInvalid = (topic: string, error: string): Condition =>
  cond('TopicReady', 'False', 'KafkaAuthSecretInvalid', `cannot use topic ${topic}: ${error}`);
export const externalTopicMissing = (topic: string, error?: string): Condition =>
  cond('TopicReady', 'False', 'TopicNotPresentOrInvalid', error === undefined ? `external topic ${topic} does not exist` : `cannot check external topic ${topic}: ${error}`);
export const topicConfigInvalid = (message: string): Condition => cond('TopicReady', 'False', 'InvalidTopicConfig', message);
/** Topic names join namespace and name with '-', so `a-b/c` and `a/b-c` would share one. */
export const topicNameConflict = (topic: string, owner: string): Condition =>
  cond('TopicReady', 'False', 'TopicNameConflict', `topic ${topic} is already the topic of ${owner}; rename one of the brokers`);

export const addressable = (): Condition => cond('Addressable', 'True');
export const notAddressable = (why: string): Condition => cond('Addressable', 'Unknown', 'NoAddress', why);

export const dataPlaneAvailable = (): Condition => cond('DataPlaneAvailable', 'True');
export const dataPlaneNotAvailable = (message: string): Condition => cond('DataPlaneAvailable', 'False', 'DataPlaneNotAvailable', message);

// ---- KafkaSink outcomes (the topic ones above apply too) ----

/** In the in-memory log there is no cluster to pick: the sink's topic lives in this process. */
export const inMemoryTopicReady = (topic: string, partitions: number): Condition =>
  cond('TopicReady', 'True', 'TopicCreated', `topic ${topic} (${partitions} partitions) in the in-memory event log; spec.bootstrapServers is not used in dev mode`);
/** Sink topics share the namespace of topic names with brokers' and other sinks' owned topics. */
export const sinkTopicConflict = (topic: string, owner: string, canShare: boolean): Condition =>
  cond('TopicReady', 'False', 'TopicNameConflict',
    `topic ${topic} is already owned by ${owner}; choose another spec.topic${canShare ? ', or leave out numPartitions and replicationFactor to write to it as an existing topic' : ''}`);

// ---- Channel outcomes (KafkaChannel, InMemoryChannel; the topic and dead-letter ones above apply too) ----

/** Which log holds the topic matters to a user of either kind: durability differs. */
export const channelTopicReady = (topic: string, partitions: number, note: string): Condition =>
  cond('TopicReady', 'True', 'TopicCreated', `topic ${topic} (${partitions} partitions)${note === '' ? '' : `; ${note}`}`);
/** A KafkaChannel and an InMemoryChannel of one name would share a topic and an address (as Knative's `<name>-kn-channel` Service). */
export const channelNameConflict = (topic: string, owner: string): Condition =>
  cond('TopicReady', 'False', 'ChannelNameConflict', `topic ${topic} and the channel's address already belong to ${owner}; rename one of the channels`);

// ---- Channel (messaging.knative.dev/v1) outcomes ----

export const backingChannelReady = (): Condition => cond('BackingChannelReady', 'True');
export const backingChannelNotReady = (kind: string, name: string, ready: Condition | undefined): Condition =>
  cond('BackingChannelReady', ready?.status === 'False' ? 'False' : 'Unknown', ready?.reason ?? 'BackingChannelNotConfigured',
    `${kind} "${name}" is not ready${ready?.message === undefined ? '' : `: ${ready.message}`}`);
/** A condition of the backing channel shown on the Channel as it is (its time is stamped anew). */
export const mirrored = (type: string, from: Condition | undefined): Condition =>
  from === undefined ? cond(type, 'Unknown', 'BackingChannelNotConfigured', 'the backing channel has not been reconciled') : cond(type, from.status, from.reason, from.message);

// ---- Subscription outcomes ----

export const channelReady = (): Condition => cond('ChannelReady', 'True');
export const channelDoesNotExist = (kind: string, namespace: string, name: string): Condition =>
  cond('ChannelReady', 'False', 'ChannelDoesNotExist', `${kind} "${name}" does not exist in namespace "${namespace}"; the Subscription is added once it does`);
export const channelNotReady = (kind: string, name: string, ready: Condition | undefined): Condition =>
  cond('ChannelReady', ready?.status === 'False' ? 'False' : 'Unknown', 'ChannelNotReady',
    `${kind} "${name}" is not ready${ready?.reason === undefined ? '' : `: ${ready.reason}`}${ready?.message === undefined ? '' : `: ${ready.message}`}`);

export const referencesResolved = (): Condition => cond('ReferencesResolved', 'True');
/** Knative's reasons: SubscriberResolveFailed, ReplyResolveFailed, DeadLetterSinkResolveFailed. */
export const referencesUnresolved = (reason: 'SubscriberResolveFailed' | 'ReplyResolveFailed' | 'DeadLetterSinkResolveFailed', message: string): Condition =>
  cond('ReferencesResolved', 'False', reason, message);

/** Added to the channel: its consumer group's starting offsets are fixed and its egress is in the contract. */
export const addedToChannel = (group: string): Condition => cond('AddedToChannel', 'True', 'ConsumerGroupReady', `consumer group ${group}`);
export const addingToChannel = (group: string, why: string): Condition => cond('AddedToChannel', 'Unknown', 'ConsumerGroupPending', `consumer group ${group}: ${why}`);
export const failedToAddToChannel = (group: string, error: string): Condition =>
  cond('AddedToChannel', 'False', 'FailedToInitConsumerGroup', `failed to fix the starting offsets of consumer group ${group}: ${error}`);

// ---- Trigger outcomes ----

export const brokerReady = (): Condition => cond('BrokerReady', 'True');
export const brokerDoesNotExist = (namespace: string, name: string): Condition =>
  cond('BrokerReady', 'False', 'BrokerDoesNotExist', `broker "${name}" does not exist in namespace "${namespace}"`);
export const brokerNotReady = (name: string, ready: Condition | undefined): Condition =>
  cond('BrokerReady', ready?.status === 'False' ? 'False' : 'Unknown', 'BrokerNotReady',
    `broker "${name}" is not ready${ready?.reason === undefined ? '' : `: ${ready.reason}`}${ready?.message === undefined ? '' : `: ${ready.message}`}`);

export const subscriberResolved = (): Condition => cond('SubscriberResolved', 'True');
export const subscriberUnresolved = (message: string): Condition => cond('SubscriberResolved', 'False', 'SubscriberResolveFailed', message);

export const subscriptionReady = (group: string): Condition =>
  cond('SubscriptionReady', 'True', 'ConsumerGroupReady', `consumer group ${group}`);
export const subscriptionPending = (group: string, why: string): Condition =>
  cond('SubscriptionReady', 'Unknown', 'ConsumerGroupPending', `consumer group ${group}: ${why}`);
/** Group names join namespace and name with '-', so `a-b/c` and `a/b-c` would share one. */
export const groupNameConflict = (group: string, owner: string): Condition =>
  cond('SubscriptionReady', 'False', 'ConsumerGroupConflict', `consumer group ${group} already belongs to ${owner}; rename one of the triggers`);
export const failedToInitGroup = (group: string, error: string): Condition =>
  cond('SubscriptionReady', 'False', 'FailedToInitConsumerGroup', `failed to fix the starting offsets of consumer group ${group}: ${error}`);

/**
 * Records the trigger's consumer group never received: its position was gone from the log when
 * it resumed. Not a dependent of Ready (the trigger delivers again), but shown until the trigger
 * leaves the contract or the dispatcher restarts, so that the loss is seen, not silent.
 */
export const eventsSkipped = (message: string): Condition => cond('EventsSkipped', 'True', 'OffsetOutOfRange', message);

/** Events the trigger's dispatcher cannot deliver nor dead-letter right now; like EventsSkipped, not a dependent of Ready. */
export const eventsHeld = (message: string): Condition => cond('EventsHeld', 'True', 'EventsHeld', message);

// ---- shared outcomes ----

export const deadLetterSinkResolved = (): Condition => cond('DeadLetterSinkResolved', 'True');
/** Knative marks a missing dead-letter sink True, with a reason that says so. */
export const deadLetterSinkNotConfigured = (): Condition =>
  cond('DeadLetterSinkResolved', 'True', 'DeadLetterSinkNotConfigured', 'no dead letter sink is configured');
export const deadLetterSinkUnresolved = (message: string): Condition =>
  cond('DeadLetterSinkResolved', 'False', 'DeadLetterSinkResolveFailed', message);

/** Every dependent Unknown and Ready False: the spec was refused, so nothing was reconciled. */
export function refusedConditions(types: readonly string[], reason: string, errors: readonly FieldError[]): Condition[] {
  const message = formatFieldErrors(errors);
  return sortConditions([
    ...types.map((type) => cond(type, 'Unknown', reason, 'not reconciled: the spec was refused (see Ready)')),
    cond('Ready', 'False', reason, message),
  ]);
}

/** Adds the derived Ready condition; `readyMessage` is shown when Ready is True (e.g. warnings). */
export function withReady(types: readonly string[], conditions: readonly Condition[], readyMessage?: string): Condition[] {
  const dependents = dependentsOf(types, conditions);
  const blocker = blockerOf(dependents);
  const ready = blocker === undefined ? cond('Ready', 'True', readyMessage === undefined ? undefined : 'ReadyWithWarnings', readyMessage) : cond('Ready', blocker.status, blocker.reason, blocker.message);
  return sortConditions([...dependents, ready]);
}

/** The dependent Ready takes its reason from (undefined: every one is True). */
export const readyBlocker = (types: readonly string[], conditions: readonly Condition[]): Condition | undefined => blockerOf(dependentsOf(types, conditions));

const dependentsOf = (types: readonly string[], conditions: readonly Condition[]): Condition[] =>
  types.map((type) => conditions.find((c) => c.type === type) ?? cond(type, 'Unknown', 'Pending'));
const blockerOf = (dependents: readonly Condition[]): Condition | undefined =>
  dependents.find((c) => c.status === 'False') ?? dependents.find((c) => c.status === 'Unknown');

export const readyCondition = (status: ObjectStatus | undefined): Condition | undefined => status?.conditions.find((c) => c.type === 'Ready');
export const isReady = (status: ObjectStatus | undefined): boolean => readyCondition(status)?.status === 'True';

/** Knative keeps conditions sorted by type. */
function sortConditions(conditions: Condition[]): Condition[] {
  return conditions.sort(byType);
}

function byType(a: Condition, b: Condition): number {
  return a.type < b.type ? -1 : a.type > b.type ? 1 : 0;
}

/**
 * Stamps `lastTransitionTime`: kept from the previous status while a condition's status, reason
 * and message stay the same, `now` otherwise (knative.dev/pkg does the same on status only;
 * including reason and message shows when a failure changed its cause).
 */
export function stampTransitions(previous: ObjectStatus | undefined, next: ObjectStatus, now: string): ObjectStatus {
  const before = new Map((previous?.conditions ?? []).map((c) => [c.type, c]));
  const conditions = next.conditions.map((c) => {
    const old = before.get(c.type);
    const same = old !== undefined && old.status === c.status && old.reason === c.reason && old.message === c.message;
    return { ...c, lastTransitionTime: same && old.lastTransitionTime !== undefined ? old.lastTransitionTime : now };
  });
  return { ...next, conditions };
}

// ---- Conditions from what was observed, shared by brokers, sinks and channels ----

/**
 * TopicReady of a broker's or sink's topic from what was observed. `inMemory`: the sink's topic
 * lives in this process's in-memory log, which the ready message says.
 */
export function topicCondition(topic: DesiredTopic, observed: Observed, inMemory = false): Condition {
  const seen = observed.topics.get(topic.name);
  switch (seen?.state) {
    case undefined:
      return topicPending(topic.name);
    case 'ready':
      if (inMemory) return inMemoryTopicReady(topic.name, seen.partitions);
      return topic.external ? externalTopicReady(topic.name, seen.partitions) : topicCreated(topic.name, seen.partitions);
    case 'missing':
      return externalTopicMissing(topic.name);
    case 'failed':
      if (seen.code === 'KAFKA_AUTH_FAILED' || seen.code === 'KAFKA_TLS_FAILED') return kafkaSecurityFailed(topic.name, seen.code, seen.error);
      if (seen.code === 'KAFKA_AUTH_INVALID') return kafkaAuthSecretInvalid(topic.name, seen.error);
      return topic.external ? externalTopicMissing(topic.name, seen.error) : failedToCreateTopic(topic.name, seen.error);
    default: {
      const unreachable: never = seen;
      return unreachable;
    }
  }
}

export const dataPlaneCondition = (dataPlane: DataPlaneObservation): Condition =>
  dataPlane.available ? dataPlaneAvailable() : dataPlaneNotAvailable(dataPlane.message);

/** DataPlaneAvailable of one contract resource: the data plane as a whole, then what its processes reported. */
export function resourceDataPlaneCondition(observed: Observed, uid: string, roles: readonly DataPlaneRole[]): Condition {
  if (!observed.dataPlane.available) return dataPlaneCondition(observed.dataPlane);
  return dataPlaneCondition(observed.dataPlaneOf?.(uid, roles) ?? observed.dataPlane);
}

/** Addressable once the topic is ready and any dead-letter sink resolves: then the ingress can take events. */
export const addressableCondition = (topic: string, topicReady: boolean, deadLetterOk: boolean): Condition =>
  topicReady && deadLetterOk ? addressable() : notAddressable(topicReady ? 'the dead letter sink is not resolved' : `topic ${topic} is not ready`);
