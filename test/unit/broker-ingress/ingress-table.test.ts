import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IngressTable } from '../../../broker-ingress/ingress-table.js';
import { ingressConfigSchema } from '../../../broker-ingress/config.js';
import { makeBroker, makeContract } from '../../helpers/builders.js';

describe('IngressTable', () => {
  test('serves every resource with an ingress path, by diff across generations', () => {
    const table = new IngressTable();
    assert.equal(table.loaded, false);
    const a = makeBroker('a');
    const b = makeBroker('b');
    const noIngress = makeBroker('c', [], { ingress: null });
    assert.deepEqual(table.apply(makeContract([a, noIngress], 1)), { added: ['/default/a'], removed: [], changed: [] });
    assert.equal(table.loaded, true);
    assert.equal(table.lookup('/default/a')?.topic, 'knative-broker-default-a');
    assert.equal(table.lookup('/default/c'), undefined);

    const before = table.lookup('/default/a');
    assert.deepEqual(table.apply(makeContract([a, b], 2)), { added: ['/default/b'], removed: [], changed: [] });
    assert.equal(table.lookup('/default/a'), before, 'an unchanged resource keeps its entry');

    const movedB = { ...b, topics: ['other-topic'] };
    assert.deepEqual(table.apply(makeContract([movedB], 3)), { added: [], removed: ['/default/a'], changed: ['/default/b'] });
    assert.equal(table.lookup('/default/a'), undefined);
    assert.equal(table.lookup('/default/b')?.topic, 'other-topic');
    assert.equal(table.generation, 3);
  });

  test('a path that moves is served only at its new place', () => {
    const table = new IngressTable();
    const a = makeBroker('a');
    table.apply(makeContract([a], 1));
    table.apply(makeContract([{ ...a, ingress: { path: '/default/a2', contentMode: 'binary' } }], 2));
    assert.equal(table.lookup('/default/a'), undefined);
    assert.ok(table.lookup('/default/a2'));
  });

  test('the hop limit applies to brokers only', () => {
    const table = new IngressTable();
    table.apply(makeContract([makeBroker('a'), makeBroker('s', [], { kind: 'KafkaSink', uid: 's', ingress: { path: '/sinks/default/s', contentMode: 'structured' } })], 1));
    assert.equal(table.lookup('/default/a')?.hopLimited, true);
    assert.equal(table.lookup('/sinks/default/s')?.hopLimited, false);
    assert.equal(table.lookup('/sinks/default/s')?.contentMode, 'structured');
  });
});

describe('ingressConfigSchema', () => {
  test('defaults', () => {
    assert.deepEqual(ingressConfigSchema.parse({}), {
      host: '0.0.0.0', port: 8080, bodyLimitBytes: 1048576, retryAfterSeconds: 5, maxInFlightEvents: 10000,
      maxBufferedBytes: 64 * 1048576, requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 65_000,
      maxConnections: 4096, maxRecordBytes: 2 * 1048576, metricsMaxEventTypes: 50, plainHttp: true,
    });
  });
  test('the bounds are refused when they cannot work', () => {
    for (const [setting, value] of [['maxBufferedBytes', 0], ['requestTimeoutMs', -1], ['maxConnections', 1.5], ['maxRecordBytes', 'lots'], ['keepAliveTimeoutMs', 0]] as const) {
      assert.equal(ingressConfigSchema.safeParse({ [setting]: value }).success, false, `${setting}: ${value}`);
    }
    const headersLonger = ingressConfigSchema.safeParse({ headersTimeoutMs: 5000, requestTimeoutMs: 1000 });
    assert.equal(headersLonger.success, false);
    assert.match(headersLonger.error!.issues[0]!.message, /headersTimeoutMs must not be longer than requestTimeoutMs/);
  });
  test('port 0 is allowed, strings are coerced, nonsense is refused', () => {
    assert.equal(ingressConfigSchema.parse({ port: '0' }).port, 0);
    assert.equal(ingressConfigSchema.safeParse({ port: 70000 }).success, false);
    assert.equal(ingressConfigSchema.safeParse({ bodyLimitBytes: 0 }).success, false);
  });
});
