import assert from 'node:assert/strict';
import { test } from 'node:test';
import { wantedConfigMaps } from '../../../../controller/kubernetes/config-maps.js';
import { broker, knObject } from '../fixtures.js';

/** Which ConfigMaps the controller reads by name (a GET each; its Role names them). */

test('kafka-channel-config always; each Broker spec.config in the controller namespace; nothing elsewhere', () => {
  const objects = [
    broker('a', { config: { apiVersion: 'v1', kind: 'ConfigMap', name: 'kafka-broker-config', namespace: 'knative-eventing' } }),
    broker('b', { config: { apiVersion: 'v1', kind: 'ConfigMap', name: 'own-config' } }),
    broker('c', { config: { apiVersion: 'v1', kind: 'ConfigMap', name: 'other', namespace: 'knative-eventing' } }),
    broker('d', { config: { apiVersion: 'v1', kind: 'Secret', name: 'not-a-config-map', namespace: 'knative-eventing' } }),
    broker('e'),
    knObject('eventing.knative.dev/v1alpha1', 'KafkaSink', 's', { spec: { config: { kind: 'ConfigMap', name: 'ignored', namespace: 'knative-eventing' } } }),
  ];
  assert.deepEqual([...wantedConfigMaps(objects, 'knative-eventing')].sort(), ['kafka-broker-config', 'kafka-channel-config', 'other']);
  assert.deepEqual([...wantedConfigMaps(objects, 'default')].sort(), ['kafka-channel-config', 'own-config']);
});
