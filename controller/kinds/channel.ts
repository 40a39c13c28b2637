import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import * as c from '../conditions.js';
import type { AddressEntry } from '../destinations.js';
import { apiGroup, keyOf, MESSAGING_GROUP, MESSAGING_V1, MESSAGING_V1BETA1, objectKey, type KnObject, type ObjectKey } from '../resources.js';
import type { ReconcileSettings } from '../state.js';
import { invalid, isRecord, unknownFields, type Admission, type ChannelTemplate, type FieldError } from './admission.js';

export type { ChannelTemplate } from './admission.js';
import { isChannelableKind, onKafka, withSubscribableAnnotation } from './backing-channel.js';
import { deliverySpec } from './delivery.js';
import { admitInto, admitOnce, type Pass } from './pass.js';

/**
 * Channel (messaging.knative.dev/v1), pure: admission, the backing channel it creates, and its
 * status, which mirrors the backing channel's. As in Knative:
 *
 *   Channel  ──creates──▶  backing channel (backing-channel.ts): same name, the template's kind
 *      ▲ mirrors status, address, subscribers          │
 *      └───────────────────────────────────────────────┘
 *
 * A Channel whose template names a kind this controller does not serve is left alone.
 */

export const isChannel = (object: KnObject): boolean => object.kind === 'Channel' && apiGroup(object.apiVersion) === MESSAGING_GROUP;

// ---- Admission ----

/** messaging.knative.dev/v1 Channel: a factory for its backing channel (same name, the template's kind). */
export interface AdmittedChannel {
  readonly key: ObjectKey;
  readonly object: KnObject;
  readonly template: ChannelTemplate;
  /** `spec.delivery` as written (checked), copied into the backing channel's spec; null when absent. */
  readonly rawDelivery: unknown;
}

export const IN_MEMORY_CHANNEL_TEMPLATE: ChannelTemplate = { apiVersion: MESSAGING_V1, kind: 'InMemoryChannel' };

const CHANNEL_SPEC_FIELDS = ['channelTemplate', 'delivery', 'subscribers'] as const;
const TEMPLATE_FIELDS = ['apiVersion', 'kind', 'spec'] as const;

/** Knative's Channel defaulter: the subscribable duck annotation, and the default channel template. */
export function defaultChannel(object: KnObject, template: ChannelTemplate): KnObject {
  const annotated = withSubscribableAnnotation(object);
  const spec = object.spec === undefined || object.spec === null ? {} : object.spec;
  if (!isRecord(spec) || spec['channelTemplate'] !== undefined) return spec === object.spec ? annotated : { ...annotated, spec };
  return { ...annotated, spec: { channelTemplate: structuredClone(template), ...spec } };
}

/** Knative's `Channel.Validate`: a template naming a kind, no subscribers, a valid delivery; the spec is immutable. */
export function admitChannel(raw: KnObject, previous: KnObject | undefined, template: ChannelTemplate): Admission<AdmittedChannel> {
  const object = defaultChannel(raw, template);
  if (!isRecord(object.spec)) return invalid([{ path: 'spec', message: 'expected an object' }]);
  const spec = object.spec;
  // Knative: a Channel's spec never changes; its backing channel was created from it.
  if (previous !== undefined && !isDeepStrictEqual(specWithout(previous.spec, 'subscribers'), specWithout(spec, 'subscribers'))) {
    return {
      ok: false,
      reason: 'ImmutableFieldChanged',
      errors: [{ path: 'spec', message: "Immutable fields changed: a Channel's channelTemplate and delivery are fixed at creation; delete the Channel and create it again" }],
    };
  }
  const errors: FieldError[] = [...unknownFields(spec, CHANNEL_SPEC_FIELDS, 'spec')];
  let checked: ChannelTemplate | null = null;
  const t = spec['channelTemplate'];
  if (!isRecord(t)) errors.push({ path: 'spec.channelTemplate', message: t === null ? 'missing field(s)' : 'expected an object' });
  else {
    errors.push(...unknownFields(t, TEMPLATE_FIELDS, 'spec.channelTemplate'));
    const missing = (['apiVersion', 'kind'] as const).filter((f) => typeof t[f] !== 'string' || t[f] === '');
    if (missing.length > 0) errors.push({ path: missing.map((f) => `spec.channelTemplate.${f}`).join(', '), message: 'missing field(s)' });
    const templateSpec = t['spec'];
    if (templateSpec !== undefined && templateSpec !== null && !isRecord(templateSpec)) errors.push({ path: 'spec.channelTemplate.spec', message: 'expected an object' });
    if (missing.length === 0) checked = { apiVersion: t['apiVersion'] as string, kind: t['kind'] as string, ...(isRecord(templateSpec) ? { spec: templateSpec } : {}) };
  }
  // Knative: subscribers are added to the backing channel by Subscriptions, never written on a Channel.
  if (Array.isArray(spec['subscribers']) && spec['subscribers'].length > 0) errors.push({ path: 'spec.subscribers', message: 'must not set the field(s): create Subscriptions instead' });
  const rawDelivery = spec['delivery'] ?? null;
  if (rawDelivery !== null) deliverySpec(rawDelivery, 'spec.delivery', object.metadata.namespace, errors);
  if (errors.length > 0 || checked === null) return invalid(errors);
  return { ok: true, value: { key: keyOf(object), object, template: checked, rawDelivery } };
}

function specWithout(spec: unknown, field: string): unknown {
  if (!isRecord(spec)) return spec;
  const { [field]: _dropped, ...rest } = spec;
  return rest;
}

// ---- The backing channel and the status ----

const defaultTemplates = new WeakMap<ReconcileSettings, ChannelTemplate>();

/**
 * The backing kind of a Channel without `spec.channelTemplate` (Knative's `default-ch-webhook`):
 * the one configured, else InMemoryChannel on the in-memory log and KafkaChannel on Kafka, with
 * the controller's topic settings. One object per settings, so admission results can be reused.
 */
export function defaultChannelTemplate(settings: ReconcileSettings): ChannelTemplate {
  const configured = settings.admission.channelTemplate;
  if (configured !== undefined) return configured;
  let template = defaultTemplates.get(settings);
  if (template === undefined) {
    template = onKafka(settings)
      ? { apiVersion: MESSAGING_V1BETA1, kind: 'KafkaChannel', spec: { numPartitions: settings.topicPartitions, replicationFactor: settings.topicReplicationFactor } }
      : IN_MEMORY_CHANNEL_TEMPLATE;
    defaultTemplates.set(settings, template);
  }
  return template;
}

/** Whether this controller serves the Channel's backing kind (else another controller does, or none). */
export const servesTemplate = (template: ChannelTemplate): boolean => apiGroup(template.apiVersion) === MESSAGING_GROUP && isChannelableKind(template.kind);

export const backingKeyOf = (channel: AdmittedChannel): ObjectKey =>
  objectKey(channel.template.kind, channel.object.metadata.namespace, channel.object.metadata.name);

const backings = new WeakMap<KnObject, KnObject>();

/**
 * The backing channel a Channel creates (Knative: same name and namespace, the template's
 * apiVersion and kind, the template's spec plus the Channel's delivery, owned by the Channel). Its
 * uid is derived from the Channel's, so it is the same on every pass and every restart. The same
 * object is returned while the Channel's admitted object is unchanged.
 */
export function backingChannelOf(channel: AdmittedChannel): KnObject {
  const cached = backings.get(channel.object);
  if (cached !== undefined) return cached;
  const { metadata } = channel.object;
  const spec = { ...(channel.template.spec ?? {}), ...(channel.rawDelivery === null ? {} : { delivery: channel.rawDelivery }) };
  const backing: KnObject = {
    apiVersion: channel.template.apiVersion,
    kind: channel.template.kind,
    metadata: {
      name: metadata.name,
      namespace: metadata.namespace,
      uid: derivedUid(metadata.uid, channel.template.kind),
      // Its spec never changes: a Channel's spec is immutable.
      generation: 1,
      creationTimestamp: metadata.creationTimestamp,
      annotations: {},
      labels: {},
      ownerReferences: [{ apiVersion: channel.object.apiVersion, kind: 'Channel', name: metadata.name, uid: metadata.uid, controller: true, blockOwnerDeletion: true }],
    },
    spec,
  };
  backings.set(channel.object, backing);
  return backing;
}

/**
 * A Channel's status (Knative `ChannelStatus.PropagateStatuses`): its backing channel's Ready as
 * BackingChannelReady, its topic and dead-letter conditions as they are, its address and its
 * subscribers; `status.channel` names the backing channel.
 */
export function reconcileChannel(channel: AdmittedChannel, backing: c.ObjectStatus | undefined): c.ObjectStatus {
  const { metadata } = channel.object;
  const find = (type: string): c.Condition | undefined => backing?.conditions.find((x) => x.type === type);
  const conditions = [
    c.isReady(backing) ? c.backingChannelReady() : c.backingChannelNotReady(channel.template.kind, metadata.name, c.readyCondition(backing)),
    c.mirrored('TopicReady', find('TopicReady')),
    c.mirrored('DeadLetterSinkResolved', find('DeadLetterSinkResolved')),
    backing?.address === undefined ? c.notAddressable(`the backing ${channel.template.kind} "${metadata.name}" has no address yet`) : c.addressable(),
  ];
  return {
    observedGeneration: metadata.generation,
    conditions: c.withReady(c.CHANNEL_CONDITIONS, conditions),
    channel: { apiVersion: channel.template.apiVersion, kind: channel.template.kind, name: metadata.name, namespace: metadata.namespace },
    ...(backing?.address === undefined ? {} : { address: backing.address }),
    ...(backing?.subscribers === undefined ? {} : { subscribers: backing.subscribers }),
    ...(backing?.deadLetterSinkUri === undefined ? {} : { deadLetterSinkUri: backing.deadLetterSinkUri }),
  };
}

/** A UUID (version 5 layout) derived from an owner's uid and a kind: stable, and distinct from the owner's. */
function derivedUid(ownerUid: string, kind: string): string {
  const hash = createHash('sha1').update(`${ownerUid}/${kind}`).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// ---- Phases of the desired state (desired.ts) ----

/** The Channels of one pass, once admitted. */
export interface Channels {
  /** The Channels whose backing channel this controller serves: admitted, or refused with an earlier version in force. */
  readonly inForce: ReadonlyMap<ObjectKey, AdmittedChannel>;
  readonly refused: ReadonlySet<ObjectKey>;
  /** The backing channels to create, those the source (`sourceKeys`) does not hold already. */
  readonly generated: readonly KnObject[];
}

/**
 * Admits the Channels. Each one's backing channel is generated, or adopted when the source has it
 * (as Knative's Channel controller does).
 */
export function admitChannels(pass: Pass, objects: readonly KnObject[], sourceKeys: ReadonlySet<ObjectKey>): Channels {
  const template = defaultChannelTemplate(pass.settings);
  const inForce = new Map<ObjectKey, AdmittedChannel>();
  const refused = new Set<ObjectKey>();
  const generated: KnObject[] = [];
  for (const raw of objects) {
    const key = keyOf(raw);
    const admission = admitInto(pass, raw, (r, previous) => admitChannel(r, previous, template), (r) => defaultChannel(r, template), c.CHANNEL_CONDITIONS);
    let channel: AdmittedChannel | undefined;
    if (admission.ok) channel = admission.value;
    else {
      refused.add(key);
      const previous = pass.previouslyAdmitted.get(key);
      if (previous !== undefined) {
        // A refused change leaves the Channel as it was (Knative never stores it): its backing channel stays.
        const before = admitOnce(previous, undefined, pass.settings, () => admitChannel(previous, undefined, template));
        if (before.ok) channel = before.value;
      }
    }
    if (channel === undefined) continue;
    if (!servesTemplate(channel.template)) {
      pass.statuses.delete(key);
      pass.ignored.set(key, `its channelTemplate is ${channel.template.apiVersion} ${channel.template.kind}, which this controller does not serve (KafkaChannel, InMemoryChannel)`);
      continue;
    }
    inForce.set(key, channel);
    if (!sourceKeys.has(backingKeyOf(channel))) generated.push(backingChannelOf(channel));
  }
  return { inForce, refused, generated };
}

/** A Channel's address is its backing channel's (`entries`, by the backing channel's key). */
export function channelAddresses(pass: Pass, channels: Channels, entries: ReadonlyMap<ObjectKey, AddressEntry>): void {
  pass.addresses.addKind(MESSAGING_GROUP, 'Channel');
  for (const channel of channels.inForce.values()) {
    const { namespace, name } = channel.object.metadata;
    pass.addresses.set(MESSAGING_GROUP, 'Channel', namespace, name, entries.get(backingKeyOf(channel)) ?? { url: null, why: `its backing ${channel.template.kind} is not ready` });
  }
}

/** Once the backing channels list their subscribers: each Channel in force, not refused, mirrors its backing channel. */
export function mirrorBackingChannels(pass: Pass, channels: Channels): void {
  for (const [key, channel] of channels.inForce) {
    if (!channels.refused.has(key)) pass.statuses.set(key, reconcileChannel(channel, pass.statuses.get(backingKeyOf(channel))));
  }
}
