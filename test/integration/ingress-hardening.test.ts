/**
 * Hardening at the ingress, on both event logs: prototype-named extensions are extensions like any
 * other (item 1), and a producer cannot switch loop protection off with a huge TTL (item 5).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fromKafkaRecord } from '../../core/cloudevents/kafka-binding.js';
import { uniqueName } from '../helpers/wait.js';
import { ceHeaders, logFactories, readAll, startTestIngress } from '../unit/broker-ingress/fixtures.js';

const minimal = { specversion: '1.0', source: '/s', type: 't' };
const structured = { 'content-type': 'application/cloudevents+json' };
const batch = { 'content-type': 'application/cloudevents-batch+json' };

for (const kind of logFactories) {
  describe(`ingress hardening over the ${kind.name} log`, () => {
    test('constructor, hasownproperty, tostring: 202 in binary, structured and batch mode, and on the topic as ce_ headers', async (t) => {
      const log = kind.create(t);
      const { post, path, topic } = await startTestIngress(t, log);
      const id = uniqueName('proto');
      const binary = await post(path, ceHeaders({ 'ce-id': `${id}-b`, 'ce-constructor': 'c', 'ce-hasownproperty': 'h', 'ce-toString': 't' }), '{}');
      assert.equal(binary.status, 202, binary.body);
      const one = await post(path, structured, JSON.stringify({ ...minimal, id: `${id}-s`, constructor: 'c', hasownproperty: 'h', tostring: 't' }));
      assert.equal(one.status, 202, one.body);
      const many = await post(path, batch, JSON.stringify([{ ...minimal, id: `${id}-1`, constructor: 'c' }, { ...minimal, id: `${id}-2`, valueof: 'v' }]));
      assert.equal(many.status, 202, many.body);
      const records = await readAll(log, topic);
      assert.equal(records.length, 4);
      const byId = new Map<string, Readonly<Record<string, unknown>>>();
      for (const record of records) {
        const decoded = fromKafkaRecord(record);
        assert.ok(decoded.ok);
        byId.set(String(decoded.event.attributes['id']), decoded.event.attributes);
      }
      assert.deepEqual(
        [byId.get(`${id}-b`)?.['constructor'], byId.get(`${id}-b`)?.['tostring'], byId.get(`${id}-s`)?.['hasownproperty'], byId.get(`${id}-1`)?.['constructor'], byId.get(`${id}-2`)?.['valueof']],
        ['c', 't', 'h', 'c', 'v'],
      );
    });

    test('__proto__ as a JSON key or a header: 400 naming it, nothing appended', async (t) => {
      const log = kind.create(t);
      const { post, path, topic } = await startTestIngress(t, log);
      const json = await post(path, structured, `{"specversion":"1.0","id":"p","source":"/s","type":"t","__proto__":"x"}`);
      assert.equal(json.status, 400);
      assert.match(String(json.json()['message']), /__proto__/);
      const object = await post(path, structured, `{"specversion":"1.0","id":"p","source":"/s","type":"t","__proto__":{"type":"other"}}`);
      assert.equal(object.status, 400);
      const header = await post(path, ceHeaders({ 'ce-__proto__': 'x' }));
      assert.equal(header.status, 400);
      assert.match(String(header.json()['message']), /__proto__/);
      assert.equal((await readAll(log, topic)).length, 0);
    });

    test('a TTL above 255 is capped: the event is stored with 254, never more', async (t) => {
      const log = kind.create(t);
      const { post, path, topic } = await startTestIngress(t, log);
      for (const ttl of ['256', '100000', '2147483648', '9'.repeat(40)]) {
        assert.equal((await post(path, ceHeaders({ 'ce-knativebrokerttl': ttl }))).status, 202, ttl);
      }
      assert.equal((await post(path, structured, JSON.stringify({ ...minimal, id: 'n', knativebrokerttl: 1e9 }))).status, 202);
      const ttls = (await readAll(log, topic)).map((r) => r.headers['ce_knativebrokerttl']?.toString());
      assert.deepEqual(ttls, ['254', '254', '254', '254', '254']);
    });
  });
}
