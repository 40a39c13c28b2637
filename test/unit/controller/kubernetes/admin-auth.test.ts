import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accessAttributes } from '../../../../controller/kubernetes/admin-auth.js';

test('an admin request as a SubjectAccessReview asks: resource paths as the resource, others as non-resource URLs', () => {
  const table: [string, string, unknown][] = [
    ['GET', '/apis/eventing.knative.dev/v1/triggers', { resourceAttributes: { verb: 'list', group: 'eventing.knative.dev', version: 'v1', resource: 'triggers' } }],
    ['GET', '/apis/eventing.knative.dev/v1/namespaces/ns/brokers', { resourceAttributes: { verb: 'list', group: 'eventing.knative.dev', version: 'v1', resource: 'brokers', namespace: 'ns' } }],
    ['GET', '/apis/eventing.knative.dev/v1/namespaces/ns/brokers/b', { resourceAttributes: { verb: 'get', group: 'eventing.knative.dev', version: 'v1', resource: 'brokers', namespace: 'ns', name: 'b' } }],
    ['GET', '/api/v1/namespaces/knative-eventing/configmaps/c', { resourceAttributes: { verb: 'get', group: '', version: 'v1', resource: 'configmaps', namespace: 'knative-eventing', name: 'c' } }],
    ['GET', '/contract', { nonResourceAttributes: { verb: 'get', path: '/contract' } }],
    ['GET', '/dead-letters/events/x', { nonResourceAttributes: { verb: 'get', path: '/dead-letters/events/x' } }],
    ['POST', '/dead-letters/replay', { nonResourceAttributes: { verb: 'post', path: '/dead-letters/replay' } }],
    ['POST', '/apis/eventing.knative.dev/v1/namespaces/ns/brokers', { nonResourceAttributes: { verb: 'post', path: '/apis/eventing.knative.dev/v1/namespaces/ns/brokers' } }],
    ['GET', '/apis/eventing.knative.dev/v1/brokers/b', { nonResourceAttributes: { verb: 'get', path: '/apis/eventing.knative.dev/v1/brokers/b' } }],
  ];
  for (const [method, path, expected] of table) assert.deepEqual(accessAttributes({ method, path }), expected, `${method} ${path}`);
});
