import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { makeEgressConfig } from '../helpers/builders.js';
import { answer, eventLogKinds, makeEvent, startScenario, startSubscriber, uniqueEgress } from '../helpers/servers.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * Delivering: an event appended to the broker's topic reaches the trigger's subscriber
 * over HTTP; failures are retried as the delivery settings say. Real subscribers on port 0, on
 * the in-memory log and on Kafka.
 *
 *   test ──append──▶ topic ──(consumer group)──▶ dispatcher ──POST──▶ subscriber (scripted)
 */
for (const kind of eventLogKinds) {
  const wait = { timeoutMs: kind.timeoutMs };

  describe(`dispatch delivery on ${kind.name}`, { timeout: kind.timeoutMs * 3 }, () => {
    test('success: binary mode with Prefer: reply and traceparent, TTL removed, offset committed', async (t) => {
      const subscriber = await startSubscriber(t);
      const egress = uniqueEgress('ok', { destination: `${subscriber.url}/hook` });
      const s = await startScenario(t, kind, { egresses: [egress] });
      const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      const event = makeEvent({ traceparent, tracestate: 'vendor=1', knativebrokerttl: 7 });
      await s.send([event]);

      await waitUntil(() => subscriber.requests.length === 1 && s.dispatcher.stats().totals.delivered === 1, { ...wait, message: 'delivery' });
      const [request] = subscriber.requests;
      assert.equal(request?.method, 'POST');
      assert.equal(request?.url, '/hook');
      assert.equal(request?.headers['prefer'], 'reply');
      assert.equal(request?.headers['traceparent'], traceparent);
      assert.equal(request?.headers['tracestate'], 'vendor=1');
      assert.equal(request?.headers['ce-id'], event.attributes['id']);
      assert.equal(request?.headers['ce-knativebrokerttl'], undefined);
      assert.equal(request?.headers['content-type'], 'application/json');
      assert.equal(request?.body.toString(), '{"hello":"world"}');

      // Done means committed: a restart delivers nothing again.
      await s.restart();
      await s.send([makeEvent({ id: 'after-restart' })]);
      await waitUntil(() => subscriber.ids().includes('after-restart'), { ...wait, message: 'second event' });
      assert.deepEqual(subscriber.ids(), [String(event.attributes['id']), 'after-restart']);
    });

    test('structured content mode when the egress says so', async (t) => {
      const subscriber = await startSubscriber(t);
      const s = await startScenario(t, kind, { egresses: [uniqueEgress('structured', { destination: subscriber.url, contentMode: 'structured' })] });
      const event = makeEvent();
      await s.send([event]);
      await waitUntil(() => subscriber.requests.length === 1, { ...wait, message: 'delivery' });
      assert.match(String(subscriber.requests[0]?.headers['content-type']), /^application\/cloudevents\+json/);
      assert.equal(subscriber.events()[0]?.attributes['id'], event.attributes['id']);
    });

    for (const [policy, expectedGaps] of [['linear', [20, 40, 60]], ['exponential', [40, 80, 160]]] as const) {
      test(`retries (${policy}): 1 + retry attempts, spaced at least by the backoff`, async (t) => {
        const subscriber = await startSubscriber(t);
        subscriber.respond((_req, res) => answer(res, 500));
        const dls = await startSubscriber(t);
        const egress = uniqueEgress(`retry-${policy}`, {
          destination: subscriber.url,
          egressConfig: makeEgressConfig({ retry: 3, backoffPolicy: policy, backoffDelayMs: 20, deadLetter: dls.url }),
        });
        const s = await startScenario(t, kind, { egresses: [egress] });
        await s.send([makeEvent()]);
        await waitUntil(() => dls.requests.length === 1, { ...wait, message: 'dead letter' });
        assert.equal(subscriber.requests.length, 4);
        const gaps = subscriber.requests.slice(1).map((r, i) => r.at - subscriber.requests[i]!.at);
        // Lower bounds only (timers never fire early by more than a millisecond or so).
        gaps.forEach((gap, i) => assert.ok(gap >= expectedGaps[i]! - 2, `gap ${i + 1} was ${gap} ms, backoff ${expectedGaps[i]} ms`));
        assert.equal(s.dispatcher.stats().totals.retries, 3);
      });
    }

    test('a non-retryable status fails at once (one attempt, then dead-lettered)', async (t) => {
      const subscriber = await startSubscriber(t);
      subscriber.respond((_req, res) => answer(res, 400, { 'content-type': 'text/plain' }, 'no'));
      const dls = await startSubscriber(t);
      const s = await startScenario(t, kind, {
        egresses: [uniqueEgress('bad-request', { destination: subscriber.url, egressConfig: makeEgressConfig({ retry: 5, backoffDelayMs: 10, deadLetter: dls.url }) })],
      });
      await s.send([makeEvent()]);
      await waitUntil(() => dls.requests.length === 1, { ...wait, message: 'dead letter' });
      assert.equal(subscriber.requests.length, 1);
      assert.equal(dls.requests[0]?.headers['ce-knativeerrorcode'], '400');
    });

    test('a timeout is retried, then dead-lettered without a status', async (t) => {
      const subscriber = await startSubscriber(t);
      const hung: (() => void)[] = [];
      subscriber.respond((_req, res) => {
        hung.push(() => answer(res, 200));
      });
      t.after(() => hung.forEach((release) => release()));
      const dls = await startSubscriber(t);
      const s = await startScenario(t, kind, {
        egresses: [uniqueEgress('timeout', { destination: subscriber.url, egressConfig: makeEgressConfig({ retry: 1, backoffDelayMs: 10, timeoutMs: 150, deadLetter: dls.url }) })],
      });
      await s.send([makeEvent()]);
      await waitUntil(() => dls.requests.length === 1, { ...wait, message: 'dead letter' });
      assert.equal(subscriber.requests.length, 2);
      assert.equal(dls.requests[0]?.headers['ce-knativeerrorcode'], undefined);
      assert.equal(dls.requests[0]?.headers['ce-knativeerrordest'], subscriber.url);
    });

    test('a network error is retried, then dead-lettered', async (t) => {
      const gone = await startSubscriber(t);
      const deadUrl = gone.url;
      await gone.close(); // nothing listens there now: connection refused
      const dls = await startSubscriber(t);
      const s = await startScenario(t, kind, {
        egresses: [uniqueEgress('refused', { destination: deadUrl, egressConfig: makeEgressConfig({ retry: 2, backoffDelayMs: 10, deadLetter: dls.url }) })],
      });
      await s.send([makeEvent()]);
      await waitUntil(() => dls.requests.length === 1, { ...wait, message: 'dead letter' });
      assert.equal(s.dispatcher.stats().totals.retries, 2);
      assert.equal(dls.requests[0]?.headers['ce-knativeerrordest'], deadUrl);
    });

    test('Retry-After on 429 (seconds) and on 503 (an HTTP date) delays the next attempt at least that long', async (t) => {
      const subscriber = await startSubscriber(t);
      let n = 0;
      subscriber.respond((_req, res) => {
        n++;
        if (n === 1) return answer(res, 429, { 'retry-after': '1' });
        // An HTTP date has whole seconds: 2.5 s ahead is at least 1.5 s ahead, which leaves room for
        // the dispatcher's timer firing a little early against Date.now() on a busy machine.
        if (n === 2) return answer(res, 503, { 'retry-after': new Date(Date.now() + 2500).toUTCString() });
        return answer(res, 200);
      });
      const s = await startScenario(t, kind, {
        egresses: [uniqueEgress('retry-after', { destination: subscriber.url, egressConfig: makeEgressConfig({ retry: 3, backoffDelayMs: 10, backoffPolicy: 'linear' }) })],
      });
      await s.send([makeEvent()]);
      await waitUntil(() => s.dispatcher.stats().totals.delivered === 1, { ...wait, message: 'delivery' });
      const [first, second, third] = subscriber.requests;
      assert.ok(second!.at - first!.at >= 998, `429 gap ${second!.at - first!.at} ms`);
      assert.ok(third!.at - second!.at >= 998, `503 gap ${third!.at - second!.at} ms`);
    });

    test('Retry-After is capped by retryAfterMax', async (t) => {
      const subscriber = await startSubscriber(t);
      let n = 0;
      subscriber.respond((_req, res) => (++n === 1 ? answer(res, 429, { 'retry-after': '3600' }) : answer(res, 200)));
      const s = await startScenario(t, kind, {
        egresses: [uniqueEgress('retry-after-max', { destination: subscriber.url, egressConfig: makeEgressConfig({ retry: 1, backoffDelayMs: 10, retryAfterMaxMs: 100 }) })],
      });
      await s.send([makeEvent()]);
      await waitUntil(() => s.dispatcher.stats().totals.delivered === 1, { ...wait, message: 'delivery within the cap, not an hour' });
      assert.ok(subscriber.requests[1]!.at - subscriber.requests[0]!.at >= 98);
    });

    test('events the filter rejects are done without a delivery', async (t) => {
      const subscriber = await startSubscriber(t);
      const s = await startScenario(t, kind, {
        egresses: [uniqueEgress('filtered', { destination: subscriber.url, filter: { kind: 'exact', attributes: { type: 'wanted' } } })],
      });
      await s.send([makeEvent({ type: 'unwanted', id: 'no-1' }), makeEvent({ type: 'wanted', id: 'yes' }), makeEvent({ type: 'unwanted', id: 'no-2' })]);
      await waitUntil(() => s.dispatcher.stats().totals.filtered === 2 && s.dispatcher.stats().totals.delivered === 1, { ...wait, message: 'filtering' });
      assert.deepEqual(subscriber.ids(), ['yes']);
      // Filtered events count as done: nothing comes back after a restart.
      await s.restart();
      await s.send([makeEvent({ type: 'wanted', id: 'yes-2' })]);
      await waitUntil(() => subscriber.ids().includes('yes-2'), { ...wait, message: 'after restart' });
      assert.deepEqual(subscriber.ids(), ['yes', 'yes-2']);
    });
  });
}
