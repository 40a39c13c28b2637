import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ObjectStatus } from '../../../../controller/conditions.js';
import {
  FINALIZER, addFinalizerPatch, destinationRefs, hasFinalizer, isDeleting, jsonEqual, removeFinalizerPatch, statusPatch, toKnObject,
} from '../../../../controller/kubernetes/objects.js';
import { KINDS } from '../../../../controller/api-kinds.js';
import { knObject } from '../fixtures.js';

const BROKER = KINDS.find((k) => k.kind === 'Broker')!;
const CONFIGMAP = KINDS.find((k) => k.kind === 'ConfigMap')!;

describe('toKnObject', () => {
  test('keeps what the core reads, from the API object and the kind table', () => {
    const object = toKnObject(BROKER, {
      metadata: {
        name: 'b', namespace: 'ns', uid: 'u-1', generation: 3, resourceVersion: '77', creationTimestamp: '2026-01-01T00:00:00Z',
        annotations: { a: 'x' }, labels: { l: 'y' }, finalizers: [FINALIZER], managedFields: [],
      },
      spec: { delivery: { retry: 1 } },
      status: { observedGeneration: 2 },
    });
    assert.deepEqual(object, {
      apiVersion: 'eventing.knative.dev/v1',
      kind: 'Broker',
      metadata: { name: 'b', namespace: 'ns', uid: 'u-1', generation: 3, creationTimestamp: '2026-01-01T00:00:00Z', annotations: { a: 'x' }, labels: { l: 'y' } },
      spec: { delivery: { retry: 1 } },
    });
  });

  test('a ConfigMap (no generation, no kind in list items) gets generation 1 and its kind from the table', () => {
    const object = toKnObject(CONFIGMAP, { metadata: { name: 'c', namespace: 'knative-eventing', uid: 'u' }, data: { k: 'v' } });
    assert.ok(typeof object !== 'string');
    assert.equal(object.apiVersion, 'v1');
    assert.equal(object.kind, 'ConfigMap');
    assert.equal(object.metadata.generation, 1);
    assert.deepEqual(object.data, { k: 'v' });
  });

  test('an object without a name or uid is refused with a reason', () => {
    assert.equal(toKnObject(BROKER, { metadata: { uid: 'u' } }), 'metadata.name is missing');
    assert.equal(toKnObject(BROKER, { metadata: { name: 'b' } }), 'metadata.uid is missing');
  });
});

describe('statusPatch', () => {
  const wanted: ObjectStatus = {
    observedGeneration: 2,
    conditions: [
      { type: 'Ready', status: 'True', lastTransitionTime: '2026-02-02T00:00:00Z' },
      { type: 'TopicReady', status: 'True', reason: 'TopicCreated', message: 'topic t', lastTransitionTime: '2026-02-02T00:00:00Z' },
    ],
    address: { url: 'http://ingress/ns/b' },
  };

  test('nothing to write when the API already says it, whatever the times (a new leader stamps afresh)', () => {
    const current = {
      observedGeneration: 2,
      conditions: [
        { type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z' },
        { type: 'TopicReady', status: 'True', reason: 'TopicCreated', message: 'topic t', lastTransitionTime: '2026-01-01T00:00:00Z' },
      ],
      address: { url: 'http://ingress/ns/b' },
    };
    assert.equal(statusPatch(current, wanted), undefined);
  });

  test('a change keeps the times of unchanged conditions and removes fields no longer set', () => {
    const current = {
      observedGeneration: 1,
      conditions: [
        { type: 'Ready', status: 'False', reason: 'TopicPending', lastTransitionTime: '2026-01-01T00:00:00Z' },
        { type: 'TopicReady', status: 'True', reason: 'TopicCreated', message: 'topic t', lastTransitionTime: '2026-01-01T00:00:00Z' },
      ],
      deadLetterSinkUri: 'http://old-dls/',
    };
    const patch = statusPatch(current, wanted);
    assert.deepEqual(patch, {
      status: {
        observedGeneration: 2,
        conditions: [
          { type: 'Ready', status: 'True', lastTransitionTime: '2026-02-02T00:00:00Z' },
          { type: 'TopicReady', status: 'True', reason: 'TopicCreated', message: 'topic t', lastTransitionTime: '2026-01-01T00:00:00Z' },
        ],
        address: { url: 'http://ingress/ns/b' },
        deadLetterSinkUri: null,
      },
    });
  });

  test('an object without a status gets all of it', () => {
    assert.deepEqual(statusPatch(undefined, wanted), { status: wanted });
  });
});

describe('finalizer', () => {
  test('added and removed by patches that carry the resourceVersion', () => {
    const object = { metadata: { name: 'b', resourceVersion: '9', finalizers: ['other'] } };
    assert.deepEqual(addFinalizerPatch(object), { metadata: { finalizers: ['other', FINALIZER], resourceVersion: '9' } });
    const held = { metadata: { name: 'b', resourceVersion: '10', finalizers: ['other', FINALIZER], deletionTimestamp: '2026-01-01T00:00:00Z' } };
    assert.ok(hasFinalizer(held) && isDeleting(held));
    assert.deepEqual(removeFinalizerPatch(held), { metadata: { finalizers: ['other'], resourceVersion: '10' } });
  });
});

describe('destinationRefs', () => {
  test("finds every destination ref in a spec, its namespace defaulted to the object's", () => {
    const t = knObject('eventing.knative.dev/v1', 'Trigger', 't', {
      spec: {
        broker: 'b',
        subscriber: { ref: { apiVersion: 'v1', kind: 'Service', name: 'svc' }, uri: '/x' },
        delivery: { deadLetterSink: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'dls', namespace: 'other' } } },
      },
    }, { namespace: 'ns' });
    assert.deepEqual(destinationRefs(t), [
      { apiVersion: 'v1', kind: 'Service', name: 'svc', namespace: 'ns' },
      { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'dls', namespace: 'other' },
    ]);
  });

  test('uris and incomplete refs are not refs', () => {
    const t = knObject('eventing.knative.dev/v1', 'Trigger', 't', { spec: { subscriber: { uri: 'http://x/' }, delivery: { deadLetterSink: { ref: { kind: 'Service' } } } } });
    assert.deepEqual(destinationRefs(t), []);
  });
});

describe('jsonEqual', () => {
  test('compares JSON values deeply', () => {
    assert.ok(jsonEqual({ a: [1, { b: 'x' }], c: null }, { c: null, a: [1, { b: 'x' }] }));
    assert.ok(!jsonEqual({ a: [1, 2] }, { a: [2, 1] }));
    assert.ok(!jsonEqual({ a: 1 }, { a: 1, b: undefined }));
    assert.ok(!jsonEqual([], {}));
  });
});
