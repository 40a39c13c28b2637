import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toKafkaRecord } from '../../core/cloudevents/kafka-binding.js';
import { makeContract, makeEgressConfig } from '../helpers/builders.js';
import { InProcessContractSource } from '../../core/contract/source.js';
import { silentLogger } from '../../core/logger.js';
import { dispatcherConfigSchema } from '../../dispatcher/config.js';
import { DeadLetterService } from '../../dispatcher/dead-letters/index.js';
import { QUARANTINE_SINK, readQuarantined } from '../../dispatcher/quarantine.js';
import { UNDECODABLE_TYPE, type UndecodableData } from '../../dispatcher/undecodable.js';
import { answer, eventLogKinds, makeEvent, startScenario, startSubscriber, uniqueEgress } from '../helpers/servers.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';

/**
 * Hardening in the dispatcher, on both event logs:
 *  - item 1: an extension named `constructor` (or another prototype name) is delivered, filtered
 *    on, and carried by replies like any other;
 *  - item 2: a record that is not a CloudEvent never stalls its partition and never vanishes: it
 *    is dead-lettered as `dev.knative.kafka.broker.undecodable`, or quarantined (and listed);
 *  - item 5: the broker's TTL reaches neither subscribers nor dead letters.
 */
for (const kind of eventLogKinds) {
  const wait = { timeoutMs: kind.timeoutMs };

  describe(`dispatch hardening on ${kind.name}`, { timeout: kind.timeoutMs * 4, concurrency: 2 }, () => {
    test('constructor / hasownproperty: delivered, matched by exact, prefix, suffix and CESQL filters; a reply carrying one is appended', async (t) => {
      const subscriber = await startSubscriber(t);
      subscriber.respond((req, res) => {
        if (req.url?.startsWith('/exact') === true) {
          answer(res, 200, { 'ce-specversion': '1.0', 'ce-id': `re-${String(req.headers['ce-id'])}`, 'ce-source': '/r', 'ce-type': 'proto.reply', 'ce-constructor': 'from-reply' });
        } else answer(res, 200);
      });
      const egresses = [
        uniqueEgress('exact', { destination: `${subscriber.url}/exact`, filter: { kind: 'exact', attributes: { constructor: 'order', type: 'proto.event' } } }),
        uniqueEgress('prefix', { destination: `${subscriber.url}/prefix`, filter: { kind: 'prefix', attributes: { hasownproperty: 'ye' } } }),
        uniqueEgress('suffix', { destination: `${subscriber.url}/suffix`, filter: { kind: 'suffix', attributes: { constructor: 'der' } } }),
        uniqueEgress('cesql', { destination: `${subscriber.url}/cesql`, filter: { kind: 'cesql', expression: "constructor = 'order' AND EXISTS hasownproperty" } }),
        uniqueEgress('replies', { destination: `${subscriber.url}/replies`, filter: { kind: 'exact', attributes: { type: 'proto.reply' } } }),
      ];
      const s = await startScenario(t, kind, { egresses });
      await s.send([makeEvent({ id: 'proto-1', type: 'proto.event', constructor: 'order', hasownproperty: 'yes' }), makeEvent({ id: 'plain-1', type: 'proto.event' })]);
      await waitUntil(() => subscriber.requests.length >= 5, { ...wait, message: 'four deliveries and the reply' });
      const paths = subscriber.requests.map((r) => `${r.url ?? ''} ${String(r.headers['ce-id'])}`).sort();
      assert.deepEqual(paths, ['/cesql proto-1', '/exact proto-1', '/prefix proto-1', '/replies re-proto-1', '/suffix proto-1']);
      for (const r of subscriber.requests) {
        assert.equal(r.headers['ce-knativebrokerttl'], undefined, 'the TTL never reaches a subscriber');
        if (r.url !== '/replies') assert.equal(r.headers['ce-constructor'], 'order');
      }
      assert.equal(subscriber.requests.find((r) => r.url === '/replies')?.headers['ce-constructor'], 'from-reply');
      assert.equal(s.dispatcher.stats().totals.held, 0);
      assert.equal(s.dispatcher.stats().totals.undecodable, 0);
    });

    test('a record that is not a CloudEvent, no dead-letter sink: quarantined and listed; the ordered partition goes on; nothing is redelivered after a restart', async (t) => {
      const subscriber = await startSubscriber(t);
      const quarantineTopic = uniqueName('quarantine');
      const egress = uniqueEgress('garbage', { destination: subscriber.url, deliveryOrder: 'ordered' });
      const s = await startScenario(t, kind, { egresses: [egress], config: { quarantineTopic } });
      await s.log.append(s.topic, [{ key: Buffer.from('k'), value: Buffer.from('\u0000garbage'), headers: { 'x-other': Buffer.from('producer') } }]);
      const bad = toKafkaRecord(makeEvent({ id: 'bad-name' }));
      await s.log.append(s.topic, [{ ...bad, headers: { ...bad.headers, ce___proto__: Buffer.from('x') } }]);
      await s.send([makeEvent({ id: 'after-garbage' })]);

      await waitUntil(() => subscriber.ids().includes('after-garbage') && s.dispatcher.stats().totals.quarantined === 2, { ...wait, message: 'garbage quarantined, the next event delivered' });
      assert.deepEqual(subscriber.ids(), ['after-garbage']);
      assert.equal(s.dispatcher.stats().totals.undecodable, 2);
      assert.equal(s.dispatcher.stats().totals.held, 0);

      const quarantined = await readQuarantined(s.log, quarantineTopic);
      assert.equal(quarantined.length, 2);
      const first = quarantined[0]!;
      assert.equal(first.event.attributes['type'], UNDECODABLE_TYPE);
      assert.equal(first.event.attributes['knativeerrortrigger'], `${egress.reference.namespace}/${egress.reference.name}`);
      const data = JSON.parse(first.event.data!.toString()) as UndecodableData;
      assert.equal(data.record.topic, s.topic);
      assert.equal(Buffer.from(data.record.value!, 'base64').toString(), '\u0000garbage');
      assert.equal(Buffer.from(data.record.key!, 'base64').toString(), 'k');
      assert.deepEqual(data.record.headers, [{ name: 'x-other', value: Buffer.from('producer').toString('base64') }]);
      assert.equal(data.error.code, 'NOT_A_CLOUDEVENT');
      assert.match((JSON.parse(quarantined[1]!.event.data!.toString()) as UndecodableData).error.message, /__proto__/);

      // `dead-letters list` (and the page, which renders the same list) shows them.
      const service = new DeadLetterService({ log: s.log, contracts: new InProcessContractSource(makeContract([s.broker], 1)), config: dispatcherConfigSchema.parse({ quarantineTopic }), logger: silentLogger() });
      t.after(() => service.close());
      const list = await service.list();
      assert.deepEqual(list.items.map((d) => [d.type, `${d.sink.namespace}/${d.sink.name}`, d.failedFor?.name]), [
        [UNDECODABLE_TYPE, `${QUARANTINE_SINK.namespace}/${QUARANTINE_SINK.name}`, egress.reference.name],
        [UNDECODABLE_TYPE, `${QUARANTINE_SINK.namespace}/${QUARANTINE_SINK.name}`, egress.reference.name],
      ]);

      // Done means committed: a new dispatcher neither quarantines nor delivers them again.
      await s.restart();
      await s.send([makeEvent({ id: 'after-restart' })]);
      await waitUntil(() => subscriber.ids().includes('after-restart'), { ...wait, message: 'delivery after the restart' });
      assert.deepEqual(subscriber.ids(), ['after-garbage', 'after-restart']);
      assert.equal(s.dispatcher.stats().totals.undecodable, 0);
      assert.equal((await readQuarantined(s.log, quarantineTopic)).length, 2);
    });

    test('a record that is not a CloudEvent, with a dead-letter sink: the sink gets the undecodable event, without any TTL', async (t) => {
      const subscriber = await startSubscriber(t);
      const dls = await startSubscriber(t);
      const quarantineTopic = uniqueName('quarantine');
      const egress = uniqueEgress('garbage-dls', { destination: subscriber.url, egressConfig: makeEgressConfig({ deadLetter: dls.url }) });
      const s = await startScenario(t, kind, { egresses: [egress], config: { quarantineTopic } });
      await s.log.append(s.topic, [{ key: null, value: Buffer.from('{"not":"an event"}'), headers: { 'content-type': Buffer.from('application/json') } }]);
      await waitUntil(() => dls.requests.length === 1 && s.dispatcher.stats().totals.undecodable === 1, { ...wait, message: 'dead-lettered' });
      const [dead] = dls.events();
      assert.equal(dead?.attributes['type'], UNDECODABLE_TYPE);
      assert.equal(dead?.attributes['knativeerrordest'], subscriber.url);
      assert.equal(dead?.attributes['knativebrokerttl'], undefined);
      assert.equal(Buffer.from((JSON.parse(dead!.data!.toString()) as UndecodableData).record.value!, 'base64').toString(), '{"not":"an event"}');
      assert.equal(subscriber.requests.length, 0);
      assert.equal(s.dispatcher.stats().totals.quarantined, 0);
      assert.deepEqual(await readQuarantined(s.log, quarantineTopic), []);
    });
  });
}
