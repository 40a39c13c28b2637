import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeHttpBinary, encodeHttpStructured } from '../../core/cloudevents/http-binding.js';
import { makeEgressConfig } from '../helpers/builders.js';
import { answer, decodeRequest, eventLogKinds, makeEvent, startScenario, startSubscriber, uniqueEgress } from '../helpers/servers.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * Replies: a subscriber that answers with a CloudEvent puts it back on the broker's
 * topic, where every trigger's filter sees it; TTL stops loops without the subscriber's help.
 *
 *   topic ──▶ trigger A ──POST──▶ subscriber A ──reply──▶ dispatcher ──append──▶ topic
 *   topic ──▶ trigger B (filter: type = order.confirmed) ──POST──▶ subscriber B
 */
for (const kind of eventLogKinds) {
  const wait = { timeoutMs: kind.timeoutMs };

  describe(`dispatch replies on ${kind.name}`, { timeout: kind.timeoutMs * 4, concurrency: 2 }, () => {
    test('a reply re-enters the broker, passes the other triggers’ filters, with TTL − 1', async (t) => {
      const a = await startSubscriber(t);
      a.respond((req, res) => {
        const [event] = decodeRequest(req);
        const reply = encodeHttpBinary({
          attributes: { specversion: '1.0', id: `reply-to-${String(event?.attributes['id'])}`, source: '/a', type: 'order.confirmed', knativebrokerttl: '250' },
          data: Buffer.from('confirmed'),
        });
        answer(res, 200, reply.headers, reply.body?.toString());
      });
      const b = await startSubscriber(t);
      const s = await startScenario(t, kind, {
        egresses: [
          uniqueEgress('a', { destination: a.url, filter: { kind: 'exact', attributes: { type: 'order.created' } } }),
          uniqueEgress('b', { destination: b.url, filter: { kind: 'exact', attributes: { type: 'order.confirmed' } } }),
        ],
      });
      await s.send([makeEvent({ id: 'o-1', type: 'order.created', knativebrokerttl: 10 })]);

      await waitUntil(() => b.requests.length === 1, { ...wait, message: 'the reply at trigger B' });
      const [reply] = b.events();
      assert.equal(reply?.attributes['id'], 'reply-to-o-1');
      assert.equal(reply?.data?.toString(), 'confirmed');
      // The TTL is removed on delivery; on the topic the reply carries 10 − 1, whatever A sent.
      assert.equal(reply?.attributes['knativebrokerttl'], undefined);
      const onTopic = [];
      for await (const record of s.log.read(s.topic)) onTopic.push(record);
      assert.equal(onTopic.length, 2);
      assert.equal(onTopic[1]?.headers['ce_knativebrokerttl']?.toString(), '9');
      assert.equal(s.dispatcher.stats().totals.repliesAppended, 1);
    });

    // The dispatcher asks a 200's header bytes whether it is a CloudEvent before making them strings (delivery.ts has()).
    for (const mode of ['binary', 'structured'] as const) {
      test(`a ${mode} reply whose header names come in mixed case is a reply`, async (t) => {
        const a = await startSubscriber(t);
        a.respond((req, res) => {
          const [event] = decodeRequest(req);
          const replyEvent = { attributes: { specversion: '1.0', id: `reply-to-${String(event?.attributes['id'])}`, source: '/a', type: 'order.confirmed' }, data: Buffer.from('{"ok":true}') };
          const reply = mode === 'binary' ? encodeHttpBinary(replyEvent) : encodeHttpStructured(replyEvent);
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(reply.headers)) headers[name.replace(/(^|-)([a-z])/g, (_m: string, dash: string, c: string) => dash + c.toUpperCase())] = String(value);
          answer(res, 200, headers, reply.body?.toString());
        });
        const b = await startSubscriber(t);
        const s = await startScenario(t, kind, {
          egresses: [
            uniqueEgress('a', { destination: a.url, filter: { kind: 'exact', attributes: { type: 'order.created' } } }),
            uniqueEgress('b', { destination: b.url, filter: { kind: 'exact', attributes: { type: 'order.confirmed' } } }),
          ],
        });
        await s.send([makeEvent({ id: 'o-mc', type: 'order.created' })]);
        await waitUntil(() => b.requests.length === 1, { ...wait, message: 'the reply at trigger B' });
        assert.equal(b.events()[0]?.attributes['id'], 'reply-to-o-mc');
        assert.equal(s.dispatcher.stats().totals.repliesAppended, 1);
      });
    }

    test('a subscriber that echoes every event does not loop forever: TTL runs out', async (t) => {
      const echo = await startSubscriber(t);
      echo.respond((req, res) => {
        const [event] = decodeRequest(req);
        const copy = encodeHttpBinary({ attributes: { ...event!.attributes, id: `${String(event!.attributes['id'])}+` }, data: event!.data });
        answer(res, 200, copy.headers, copy.body?.toString());
      });
      const s = await startScenario(t, kind, { egresses: [uniqueEgress('echo', { destination: echo.url })] });
      await s.send([makeEvent({ id: 'loop', knativebrokerttl: 5 })]);

      // TTL 5 → delivered, reply 4 → … → reply 1 delivered, its reply (0) dropped: 5 deliveries.
      await waitUntil(() => s.dispatcher.stats().totals.repliesTtlExhausted === 1, { ...wait, message: 'TTL exhausted' });
      // The last reply was dropped, not appended: once the 5 records on the topic are done, nothing more can come.
      await waitUntil(() => s.dispatcher.stats().totals.received === 5 && s.dispatcher.stats().totals.inFlight === 0, { ...wait, message: 'all records done' });
      assert.deepEqual(echo.ids(), ['loop', 'loop+', 'loop++', 'loop+++', 'loop++++']);
      assert.equal(s.dispatcher.stats().totals.repliesAppended, 4);
    });

    test('an event without a TTL is treated as 255', async (t) => {
      const echo = await startSubscriber(t);
      let n = 0;
      echo.respond((req, res) => {
        const [event] = decodeRequest(req);
        if (++n > 1) return answer(res, 200);
        const copy = encodeHttpBinary({ attributes: { ...event!.attributes, id: 'second' } });
        answer(res, 200, copy.headers);
      });
      const s = await startScenario(t, kind, { egresses: [uniqueEgress('no-ttl', { destination: echo.url })] });
      const event = makeEvent({ id: 'first' });
      const { knativebrokerttl: _ttl, ...withoutTtl } = event.attributes;
      await s.send([{ attributes: withoutTtl, data: event.data }]);
      await waitUntil(() => echo.requests.length === 2, { ...wait, message: 'the reply delivered' });
      const onTopic = [];
      for await (const record of s.log.read(s.topic)) onTopic.push(record);
      assert.equal(onTopic[1]?.headers['ce_knativebrokerttl']?.toString(), '254');
    });

    test('a reply that is not a valid CloudEvent fails the delivery: retried, then dead-lettered', async (t) => {
      const bad = await startSubscriber(t);
      // Claims to be a CloudEvent (ce-specversion) but has no id, source or type.
      bad.respond((_req, res) => answer(res, 200, { 'ce-specversion': '1.0', 'content-type': 'text/plain' }, 'oops'));
      const dls = await startSubscriber(t);
      const s = await startScenario(t, kind, {
        egresses: [uniqueEgress('bad-reply', { destination: bad.url, egressConfig: makeEgressConfig({ retry: 2, backoffDelayMs: 10, deadLetter: dls.url }) })],
      });
      await s.send([makeEvent({ id: 'x' })]);
      await waitUntil(() => dls.requests.length === 1, { ...wait, message: 'dead letter' });
      assert.equal(bad.requests.length, 3);
      assert.equal(dls.requests[0]?.headers['ce-knativeerrorcode'], '200');
      assert.equal(Buffer.from(String(dls.requests[0]?.headers['ce-knativeerrordata']), 'base64').toString(), 'oops');
      assert.equal(s.dispatcher.stats().totals.repliesAppended, 0);
    });

    test('202, and a 200 that is not a CloudEvent, are not replies', async (t) => {
      const sub = await startSubscriber(t);
      let n = 0;
      sub.respond((_req, res) => {
        n++;
        if (n === 1) {
          const reply = encodeHttpBinary({ attributes: { specversion: '1.0', id: 'r', source: '/s', type: 't' } });
          return answer(res, 202, reply.headers);
        }
        return answer(res, 200, { 'content-type': 'application/json' }, '{"status":"ok"}');
      });
      const s = await startScenario(t, kind, { egresses: [uniqueEgress('no-reply', { destination: sub.url })] });
      await s.send([makeEvent(), makeEvent()]);
      await waitUntil(() => s.dispatcher.stats().totals.delivered === 2, { ...wait, message: 'deliveries' });
      assert.equal(s.dispatcher.stats().totals.repliesAppended, 0);
      let count = 0;
      for await (const _record of s.log.read(s.topic)) count++;
      assert.equal(count, 2);
    });

    test('reply strategy url posts the reply there; discard drops it', async (t) => {
      const replier = await startSubscriber(t);
      replier.respond((_req, res) => {
        const reply = encodeHttpBinary({ attributes: { specversion: '1.0', id: 'the-reply', source: '/s', type: 't' }, data: Buffer.from('r') });
        answer(res, 200, reply.headers, 'r');
      });
      const replyTarget = await startSubscriber(t);
      const s = await startScenario(t, kind, {
        egresses: [
          uniqueEgress('to-url', { destination: replier.url, reply: { kind: 'url', url: replyTarget.url } }),
          uniqueEgress('discard', { destination: replier.url, reply: { kind: 'discard' } }),
        ],
      });
      await s.send([makeEvent({ knativebrokerttl: 3 })]);
      await waitUntil(() => s.dispatcher.stats().totals.delivered === 2, { ...wait, message: 'deliveries' });
      await waitUntil(() => replyTarget.requests.length === 1, { ...wait, message: 'reply posted' });
      assert.equal(replyTarget.events()[0]?.attributes['id'], 'the-reply');
      assert.equal(replyTarget.events()[0]?.attributes['knativebrokerttl'], '2');
      assert.equal(s.dispatcher.stats().totals.repliesDiscarded, 1);
      let count = 0;
      for await (const _record of s.log.read(s.topic)) count++;
      assert.equal(count, 1);
    });
  });
}
