import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseContract } from '../../../core/contract/parse.js';
import { CONTRACT_VERSION } from '../../../core/contract/types.js';
import type { ObjectStatus } from '../../../controller/conditions.js';
import { computeDesired } from '../../../controller/desired.js';
import { objectKey, type KnObject, type ObjectKey } from '../../../controller/resources.js';
import { stableUid } from '../../../controller/sources/manifests.js';
import type { DesiredState, GroupObservation, Observed, ReconcileSettings, TopicObservation } from '../../../controller/state.js';

/** Builders for the controller's unit tests: objects as a source hands them over. */

interface MetaOverrides {
  namespace?: string;
  annotations?: Record<string, string>;
  generation?: number;
}

export function knObject(apiVersion: string, kind: string, name: string, body: { spec?: unknown; data?: unknown }, meta: MetaOverrides = {}): KnObject {
  const namespace = meta.namespace ?? 'default';
  return {
    apiVersion,
    kind,
    metadata: {
      name,
      namespace,
      uid: stableUid(objectKey(kind, namespace, name)),
      generation: meta.generation ?? 1,
      creationTimestamp: '2026-01-01T00:00:00.000Z',
      annotations: meta.annotations ?? {},
      labels: {},
    },
    ...body,
  };
}

export const broker = (name: string, spec: unknown = {}, meta: MetaOverrides = {}): KnObject =>
  knObject('eventing.knative.dev/v1', 'Broker', name, spec === undefined ? {} : { spec }, {
    ...meta,
    annotations: { 'eventing.knative.dev/broker.class': 'Kafka', ...meta.annotations },
  });

export const trigger = (name: string, spec: Record<string, unknown>, meta: MetaOverrides = {}): KnObject =>
  knObject('eventing.knative.dev/v1', 'Trigger', name, { spec: { subscriber: { uri: 'http://sink.example/' }, ...spec } }, meta);

export const configMap = (name: string, data: Record<string, string>, namespace = 'default'): KnObject =>
  knObject('v1', 'ConfigMap', name, { data }, { namespace });

export const settings: ReconcileSettings = {
  ingressUrl: 'http://127.0.0.1:8080',
  topicPartitions: 10,
  topicReplicationFactor: 1,
  defaultBackoffDelayMs: 200,
  admission: { brokerClass: 'Kafka', brokerDelivery: { retry: 10, backoffPolicy: 'exponential', backoffDelay: 'PT0.2S' } },
};

/** What the event log was seen to hold. Topics listed are ready with 10 partitions unless given. */
export function observed(
  topics: Record<string, Partial<TopicObservation> & { owner?: string }> = {},
  groups: Record<string, Partial<GroupObservation> & { topic: string }> = {},
  dataPlane: Observed['dataPlane'] = { available: true },
): Observed {
  return {
    topics: new Map(Object.entries(topics).map(([name, t]) => [name, { state: 'ready', partitions: 10, owner: '', external: false, ...t } as TopicObservation])),
    groups: new Map(Object.entries(groups).map(([name, g]) => [name, { state: 'ready', owner: '', ...g } as GroupObservation])),
    dataPlane,
  };
}

export function condition(status: ObjectStatus | undefined, type: string): { status: string; reason?: string; message?: string } | undefined {
  const c = status?.conditions.find((x) => x.type === type);
  return c === undefined ? undefined : { status: c.status, ...(c.reason === undefined ? {} : { reason: c.reason }), ...(c.message === undefined ? {} : { message: c.message }) };
}

/** One row of a computeDesired table: the situation, and what a user (or the data plane) sees. */
export interface DesiredCase {
  readonly name: string;
  readonly objects: readonly KnObject[];
  readonly observed?: Observed;
  readonly previous?: ReadonlyMap<ObjectKey, KnObject>;
  readonly settings?: ReconcileSettings;
  readonly check: (d: DesiredState) => void;
}

/** Runs a table of cases through computeDesired, one test each. */
export function desiredCases(title: string, cases: readonly DesiredCase[], options: { readonly checkContract?: boolean } = {}): void {
  describe(title, () => {
    for (const c of cases) {
      test(c.name, () => {
        const d = computeDesired(c.objects, c.previous ?? new Map(), c.observed ?? observed(), c.settings ?? settings);
        c.check(d);
        // Whatever the case, the resources make a contract the data plane accepts.
        if (options.checkContract === true) assert.doesNotThrow(() => parseContract({ version: CONTRACT_VERSION, generation: 1, resources: d.resources }));
      });
    }
  });
}
