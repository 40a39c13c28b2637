import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { describe, test } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BasicTracerProvider, InMemorySpanExporter, ParentBasedSampler, RandomIdGenerator, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ingressConfigSchema } from '../../broker-ingress/config.js';
import { startIngress } from '../../broker-ingress/main.js';
import { encodeHttpBinary } from '../../core/cloudevents/http-binding.js';
import { InProcessContractSource } from '../../core/contract/source.js';
import type { Egress } from '../../core/contract/types.js';
import { silentLogger } from '../../core/logger.js';
import { TRACING_OFF, tracingFrom, type Tracing } from '../../core/tracing.js';
import { LeanTracer } from '../../core/tracing-tracer.js';
import { dispatcherConfigSchema } from '../../dispatcher/config.js';
import { startDispatcher } from '../../dispatcher/main.js';
import { makeBroker, makeContract, makeEgressConfig } from '../helpers/builders.js';
import { answer, decodeRequest, eventLogKinds, startSubscriber, uniqueEgress, type LogKind, type Subscriber } from '../helpers/servers.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';

/**
 * Issue 18, traces, end to end: one event through the real ingress, the event log (both kinds),
 * the dispatcher, a subscriber that replies, and a second trigger that takes the reply.
 *
 *   producer ─POST (traceparent P, ce-traceparent X)─▶ ingress ─▶ log ─▶ trigger A ─▶ subscriber A
 *                                                                  ▲                 │ reply
 *                                                                  └──── append ◀────┘
 *                                                      log ─▶ trigger B ─▶ subscriber B
 *
 * With an in-memory span exporter the spans form one trace under the producer's span, each
 * with the parent the hop implies; with tracing off the producer's context still reaches both
 * subscribers (and a dead-letter sink) as a pass-through. The ce-traceparent extension (the
 * producer's own context) arrives untouched everywhere.
 */

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PRODUCER_SPAN = '00f067aa0ba902b7';
const PRODUCER_TRACEPARENT = `00-${TRACE_ID}-${PRODUCER_SPAN}-01`;
const PRODUCER_TRACESTATE = 'vendor=producer';
/** The distributed-tracing extension: where the event was first made (another trace). */
const EXTENSION_TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

interface World {
  readonly a: Subscriber;
  readonly b: Subscriber;
  readonly egressA: Egress;
  readonly egressB: Egress;
  post(headers: Record<string, string>): Promise<number>;
}

/** Ingress and dispatcher on one log and one contract: triggers A (order.created, replies) and B (order.confirmed). */
async function startWorld(t: TestContext, kind: LogKind, tracing: Tracing, extraEgresses: (a: Subscriber) => Egress[] = () => []): Promise<World> {
  const a = await startSubscriber(t);
  a.respond((req, res) => {
    const [event] = decodeRequest(req);
    const reply = encodeHttpBinary({
      attributes: { specversion: '1.0', id: `reply-to-${String(event?.attributes['id'])}`, source: '/a', type: 'order.confirmed' },
      data: Buffer.from('confirmed'),
    });
    answer(res, 200, reply.headers, reply.body?.toString());
  });
  const b = await startSubscriber(t);
  const egressA = uniqueEgress('a', { destination: a.url, filter: { kind: 'exact', attributes: { type: 'order.created' } } });
  const egressB = uniqueEgress('b', { destination: b.url, filter: { kind: 'exact', attributes: { type: 'order.confirmed' } } });
  const egresses = [egressA, egressB, ...extraEgresses(a)];

  const log = kind.create(t);
  const broker = makeBroker(uniqueName('traced').toLowerCase(), egresses, {}, 'tracing');
  const topic = broker.topics[0]!;
  await log.ensureTopic(topic, { partitions: 1, replicationFactor: 1 });
  for (const egress of egresses) await log.initGroup(egress.consumerGroup, topic, 'earliest');
  const contracts = new InProcessContractSource(makeContract([broker], 1));

  const ingress = await startIngress({ config: ingressConfigSchema.parse({ host: '127.0.0.1', port: 0 }), log, contracts, logger: silentLogger(), tracing });
  const config = dispatcherConfigSchema.parse({ stallBackoffBaseMs: 20, maxStallBackoffMs: 200, commitIntervalMs: 100, shutdownDeadlineMs: 1000 });
  const dispatcher = await startDispatcher({ config, log, contracts, logger: silentLogger(), tracing });
  // Run before the log's own teardown (registered earlier, so it runs later).
  t.after(async () => {
    await ingress.close();
    await dispatcher.close();
  });
  const url = `${ingress.url}${broker.ingress!.path}`;
  return {
    a, b, egressA, egressB,
    post: async (headers) => {
      const response = await fetch(url, { method: 'POST', headers, body: '{"order":42}' });
      await response.arrayBuffer();
      return response.status;
    },
  };
}

const orderCreated = (extra: Record<string, string> = {}): Record<string, string> => ({
  'ce-specversion': '1.0', 'ce-id': 'o-1', 'ce-source': '/shop', 'ce-type': 'order.created', 'content-type': 'application/json',
  'ce-traceparent': EXTENSION_TRACEPARENT,
  ...extra,
});

const spanIdOf = (traceparent: unknown): string => String(traceparent).split('-')[2] ?? '';

for (const kind of eventLogKinds) {
  const wait = { timeoutMs: kind.timeoutMs };

  describe(`traces end to end on ${kind.name}`, { timeout: kind.timeoutMs * 3, concurrency: 2 }, () => {
    // The SDK's tracer (what tracingFrom(provider) gives), and the lean one that startTracing uses with OTLP.
    const tracers: [string, (exporter: InMemorySpanExporter) => { tracing: Tracing; shutdown(): Promise<void> }][] = [
      ['', (exporter) => {
        const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
        return { tracing: tracingFrom(provider), shutdown: () => provider.shutdown() };
      }],
      [' (lean tracer)', (exporter) => {
        const processor = new SimpleSpanProcessor(exporter);
        const tracer = new LeanTracer(new ParentBasedSampler({ root: new AlwaysOnSampler() }), new RandomIdGenerator(), resourceFromAttributes({}), { name: 'kafka-broker' }, processor);
        return { tracing: { tracer }, shutdown: () => processor.shutdown() };
      }],
    ];
    for (const [tracerName, makeTracing] of tracers) test(`ingress → log → trigger A → subscriber → reply → trigger B is one trace with the expected parents${tracerName}`, async (t) => {
      const exporter = new InMemorySpanExporter();
      const traces = makeTracing(exporter);
      t.after(() => traces.shutdown());
      const w = await startWorld(t, kind, traces.tracing);

      assert.equal(await w.post(orderCreated({ traceparent: PRODUCER_TRACEPARENT, tracestate: PRODUCER_TRACESTATE })), 202);
      await waitUntil(() => w.b.requests.length === 1, { ...wait, message: 'the reply at subscriber B' });
      const byName = (name: string, egress?: Egress, eventId?: string): ReadableSpan[] =>
        exporter.getFinishedSpans().filter((s) =>
          s.name === name &&
          (egress === undefined || s.attributes['knative.trigger'] === `${egress.reference.namespace}/${egress.reference.name}`) &&
          (eventId === undefined || s.attributes['cloudevents.event_id'] === eventId));
      // Spans end after the response that the subscriber recorded: wait for the last ones.
      await waitUntil(() => byName('deliver', w.egressB).length === 1 && byName('filter').length === 4, { ...wait, message: 'every span ended' });
      const spans = exporter.getFinishedSpans();

      const one = (name: string, egress?: Egress, eventId?: string): ReadableSpan => {
        const found = byName(name, egress, eventId);
        assert.equal(found.length, 1, `one ${name} span${egress === undefined ? '' : ` for ${egress.reference.name}`}${eventId === undefined ? '' : ` of ${eventId}`}, got ${found.length}`);
        return found[0]!;
      };
      const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId;
      const idOf = (span: ReadableSpan): string => span.spanContext().spanId;

      // One trace, the producer's.
      assert.deepEqual([...new Set(spans.map((s) => s.spanContext().traceId))], [TRACE_ID]);

      // The ingress: receive continues the producer's span; the extension's context is a link.
      const receive = one('receive');
      assert.equal(receive.kind, SpanKind.SERVER);
      assert.equal(parentOf(receive), PRODUCER_SPAN);
      assert.equal(receive.spanContext().traceState?.get('vendor'), 'producer');
      assert.deepEqual(receive.links.map((l) => l.context.spanId), [spanIdOf(EXTENSION_TRACEPARENT)]);
      assert.equal(receive.attributes['cloudevents.event_id'], 'o-1');
      assert.equal(receive.attributes['http.response.status_code'], 202);
      const append = one('append');
      assert.equal(append.kind, SpanKind.PRODUCER);
      assert.equal(parentOf(append), idOf(receive));

      // Trigger A takes the event; B's filter refuses it. Both continue the append.
      const filterA = one('filter', w.egressA, 'o-1');
      assert.equal(filterA.attributes['kafka_broker.filter.matched'], true);
      assert.equal(parentOf(filterA), idOf(append));
      const filterBOriginal = one('filter', w.egressB, 'o-1');
      assert.equal(filterBOriginal.attributes['kafka_broker.filter.matched'], false);
      assert.equal(parentOf(filterBOriginal), idOf(append));
      const deliverA = one('deliver', w.egressA);
      assert.equal(deliverA.kind, SpanKind.CLIENT);
      assert.equal(parentOf(deliverA), idOf(append));
      assert.equal(deliverA.attributes['http.response.status_code'], 200);
      assert.equal(deliverA.attributes['url.full'], w.a.url);

      // Subscriber A continues deliverA; the extension reaches it unchanged.
      const atA = w.a.requests[0]!;
      assert.equal(atA.headers['traceparent'], `00-${TRACE_ID}-${idOf(deliverA)}-01`);
      assert.equal(atA.headers['tracestate'], PRODUCER_TRACESTATE);
      assert.equal(atA.headers['ce-traceparent'], EXTENSION_TRACEPARENT);

      // The reply continues deliverA; trigger B's spans for the reply continue the reply.
      const reply = one('reply');
      assert.equal(reply.kind, SpanKind.PRODUCER);
      assert.equal(parentOf(reply), idOf(deliverA));
      const filterB = one('filter', w.egressB, 'reply-to-o-1');
      assert.equal(filterB.attributes['kafka_broker.filter.matched'], true);
      assert.equal(parentOf(filterB), idOf(reply));
      assert.equal(parentOf(one('filter', w.egressA, 'reply-to-o-1')), idOf(reply));
      const deliverB = one('deliver', w.egressB);
      assert.equal(parentOf(deliverB), idOf(reply));
      assert.equal(deliverB.attributes['cloudevents.event_type'], 'order.confirmed');
      assert.equal(w.b.requests[0]!.headers['traceparent'], `00-${TRACE_ID}-${idOf(deliverB)}-01`);
      // The reply is the subscriber's event: it has no extension, and none is made up.
      assert.equal(w.b.requests[0]!.headers['ce-traceparent'], undefined);

      assert.deepEqual(spans.map((s) => s.name).sort(), ['append', 'deliver', 'deliver', 'filter', 'filter', 'filter', 'filter', 'receive', 'reply']);
    });

    test('tracing off: the context is passed through to the subscribers, the reply’s trigger and the dead-letter sink', async (t) => {
      const sink = await startSubscriber(t);
      const failing = await startSubscriber(t);
      failing.respond((_req, res) => answer(res, 500));
      const egressC = uniqueEgress('c', {
        destination: failing.url, filter: { kind: 'exact', attributes: { id: 'o-1' } }, egressConfig: makeEgressConfig({ retry: 0, deadLetter: sink.url }),
      });
      const w = await startWorld(t, kind, TRACING_OFF, () => [egressC]);

      assert.equal(await w.post(orderCreated({ traceparent: PRODUCER_TRACEPARENT, tracestate: PRODUCER_TRACESTATE })), 202);
      await waitUntil(() => w.b.requests.length === 1 && sink.requests.length === 1, { ...wait, message: 'the reply at B and the dead letter' });
      for (const [who, request] of [['A', w.a.requests[0]], ['B (the reply)', w.b.requests[0]], ['C', failing.requests[0]], ['the dead-letter sink', sink.requests[0]]] as const) {
        assert.equal(request?.headers['traceparent'], PRODUCER_TRACEPARENT, who);
        assert.equal(request?.headers['tracestate'], PRODUCER_TRACESTATE, who);
      }
      assert.equal(w.a.requests[0]!.headers['ce-traceparent'], EXTENSION_TRACEPARENT);
      assert.equal(sink.requests[0]!.headers['ce-traceparent'], EXTENSION_TRACEPARENT);

      // No traceparent header: the event's distributed-tracing extension is the context to continue.
      assert.equal(await w.post(orderCreated({ 'ce-id': 'o-2' })), 202);
      await waitUntil(() => w.b.requests.length === 2, { ...wait, message: 'the second reply at B' });
      assert.equal(w.a.requests[1]!.headers['traceparent'], EXTENSION_TRACEPARENT);
      assert.equal(w.a.requests[1]!.headers['tracestate'], undefined);
      assert.equal(w.b.requests[1]!.headers['traceparent'], EXTENSION_TRACEPARENT);
    });
  });
}
