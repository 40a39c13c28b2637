import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Tracer } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler, AlwaysOnSampler, BasicTracerProvider, InMemorySpanExporter, ParentBasedSampler, SimpleSpanProcessor, type IdGenerator, type ReadableSpan, type Sampler,
} from '@opentelemetry/sdk-trace-base';
import { LeanTracer, PooledIdGenerator } from '../../../core/tracing-tracer.js';
import { FixedKeys, headersOf, startChildSpan, startSpan, startSpanFixed, remoteParent } from '../../../core/tracing.js';

/** Ids in sequence, so that the SDK's tracer and the lean one make the same ones. */
function countingIds(): IdGenerator {
  let n = 0;
  const next = (digits: number): string => (++n).toString(16).padStart(digits, '0');
  return { generateTraceId: () => next(32), generateSpanId: () => next(16) };
}

const RESOURCE = resourceFromAttributes({ 'service.name': 'lean-test' });

function sdkTracer(sampler: Sampler): { tracer: Tracer; spans(): ReadableSpan[] } {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ resource: RESOURCE, sampler, idGenerator: countingIds(), spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { tracer: provider.getTracer('kafka-broker'), spans: () => exporter.getFinishedSpans() };
}

function leanTracer(sampler: Sampler): { tracer: Tracer; spans(): ReadableSpan[] } {
  const exporter = new InMemorySpanExporter();
  return { tracer: new LeanTracer(sampler, countingIds(), RESOURCE, { name: 'kafka-broker' }, new SimpleSpanProcessor(exporter)), spans: () => exporter.getFinishedSpans() };
}

/** What an exporter reads of a span. */
const exported = (span: ReadableSpan): unknown => ({
  name: span.name,
  kind: span.kind,
  context: { ...span.spanContext(), traceState: span.spanContext().traceState?.serialize() },
  parent: span.parentSpanContext === undefined ? undefined : { spanId: span.parentSpanContext.spanId, isRemote: span.parentSpanContext.isRemote === true },
  startTime: span.startTime,
  endTime: span.endTime,
  duration: span.duration,
  ended: span.ended,
  status: span.status,
  attributes: { ...span.attributes },
  links: span.links.map((l) => ({ context: l.context.spanId, attributes: l.attributes })),
  events: span.events.map((e) => ({ name: e.name, time: e.time, attributes: e.attributes })),
  dropped: [span.droppedAttributesCount, span.droppedEventsCount, span.droppedLinksCount],
  resource: span.resource.attributes,
  scope: span.instrumentationScope.name,
});

const REMOTE: Context = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1, isRemote: true, traceState: new TraceState('v=1'),
});
const UNSAMPLED_REMOTE: Context = trace.setSpanContext(ROOT_CONTEXT, { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 0, isRemote: true });
const T0 = [1_700_000_000, 500_000_000] as [number, number];
const T1 = [1_700_000_000, 750_000_000] as [number, number];

describe('the lean tracer makes the spans the SDK makes', () => {
  const cases: [string, Sampler, (tracer: Tracer) => void][] = [
    ['a server span continuing a remote parent, then a child in process', new ParentBasedSampler({ root: new AlwaysOnSampler() }), (tracer) => {
      const receive = tracer.startSpan('receive', { kind: SpanKind.SERVER, attributes: { 'url.path': '/ns/b', 'cloudevents.event_id': '1' }, startTime: T0 }, REMOTE);
      const append = tracer.startSpan('append', { kind: SpanKind.PRODUCER, attributes: { 'messaging.destination.name': 't' }, startTime: T0 }, trace.setSpan(ROOT_CONTEXT, receive));
      append.end(T1);
      receive.setAttribute('http.response.status_code', 202);
      receive.end(T1);
    }],
    ['a root span; attributes set, overwritten, null and empty-keyed ones ignored', new AlwaysOnSampler(), (tracer) => {
      const span = tracer.startSpan('filter', { attributes: { a: 1, b: 'x', c: true, list: [1, 2] }, startTime: T0 });
      span.setAttribute('a', 2);
      span.setAttribute('', 'ignored');
      span.setAttributes({ d: false, e: undefined as unknown as string });
      span.end(T1);
    }],
    ['a failed attempt: error status with a message, status after end ignored', new AlwaysOnSampler(), (tracer) => {
      const span = tracer.startSpan('deliver', { kind: SpanKind.CLIENT, startTime: T0 });
      span.setAttribute('error.type', 'timeout');
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'the attempt timed out' });
      span.end(T1);
      span.setStatus({ code: SpanStatusCode.OK });
      span.setAttribute('late', 1);
    }],
    ['links, events and an exception; a renamed span', new AlwaysOnSampler(), (tracer) => {
      const span = tracer.startSpan('receive', { links: [{ context: trace.getSpanContext(REMOTE)! }], startTime: T0 });
      span.addLink({ context: trace.getSpanContext(REMOTE)!, attributes: { why: 'extension' } });
      span.addEvent('retry', { attempt: 2 }, T1);
      span.recordException(Object.assign(new Error('boom'), { stack: 'Error: boom\n    at here' }), T1);
      span.updateName('received');
      span.end(T1);
    }],
    ['an end before the start is a span of no length', new AlwaysOnSampler(), (tracer) => {
      tracer.startSpan('x', { startTime: T1 }).end(T0);
    }],
    ['sampled out: nothing exported (parent not sampled, always_off root)', new ParentBasedSampler({ root: new AlwaysOffSampler() }), (tracer) => {
      tracer.startSpan('receive', { startTime: T0 }, UNSAMPLED_REMOTE).end(T1);
      tracer.startSpan('root', { startTime: T0 }).end(T1);
      tracer.startSpan('child', { startTime: T0 }, REMOTE).end(T1);
    }],
  ];
  for (const [name, sampler, make] of cases) {
    test(name, () => {
      const sdk = sdkTracer(sampler);
      const lean = leanTracer(sampler);
      make(sdk.tracer);
      make(lean.tracer);
      assert.ok(sdk.spans().length > 0);
      assert.deepEqual(lean.spans().map(exported), sdk.spans().map(exported));
    });
  }

  // The broker's call sites (core/tracing.ts) take the lean tracer's way in without Contexts, and
  // decide always_on and parentbased_always_on without asking the sampler: the same spans.
  const SAMPLED = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'v=1' };
  const UNSAMPLED = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00' };
  const samplers: [string, () => Sampler][] = [
    ['always_on', () => new AlwaysOnSampler()],
    ['parentbased_always_on', () => new ParentBasedSampler({ root: new AlwaysOnSampler() })],
    ['parentbased_always_off', () => new ParentBasedSampler({ root: new AlwaysOffSampler() })],
    ['always_off', () => new AlwaysOffSampler()],
  ];
  for (const [samplerName, sampler] of samplers) {
    test(`the call sites' helpers (${samplerName}): sampled, unsampled and no parent, children, headers`, () => {
      const sdk = sdkTracer(sampler());
      const lean = leanTracer(sampler());
      const headers: unknown[][] = [[], []];
      [sdk, lean].forEach(({ tracer }, i) => {
        for (const parent of [SAMPLED, UNSAMPLED, undefined]) {
          const receive = startSpan(tracer, 'receive', SpanKind.SERVER, parent, { attributes: { 'url.path': '/ns/b' }, startTime: T0 });
          const append = startChildSpan(tracer, 'append', SpanKind.PRODUCER, receive, { attributes: { 'messaging.destination.name': 't' }, startTime: T0 });
          headers[i]!.push(headersOf(receive), headersOf(append));
          append.setStatus({ code: SpanStatusCode.ERROR, message: 'failed' });
          append.end(T1);
          receive.setAttribute('http.response.status_code', 202);
          receive.end(T1);
        }
        // Attributes the span cannot keep as they are (an undefined value) are copied, without it.
        startSpan(tracer, 'refused', SpanKind.SERVER, SAMPLED, { attributes: { 'url.path': '/x', 'x.none': undefined as unknown as string }, startTime: T0 }).end(T1);
      });
      assert.deepEqual(lean.spans().map(exported), sdk.spans().map(exported));
      assert.deepEqual(headers[1], headers[0]);
    });
  }

  // Fixed attributes (startSpanFixed): the lean tracer keeps the values array and writes it to
  // the wire (core/tracing-wire.ts); what the span shows and what is exported must be the same.
  const KEYS = new FixedKeys(['cloudevents.event_id', 'url.full', 'http.request.resend_count', 'http.response.status_code', 'error.type', 'x.list']);
  for (const [samplerName, sampler] of samplers) {
    test(`fixed attributes (${samplerName}): set, unset, set later, overwritten, and others beside them`, () => {
      const sdk = sdkTracer(sampler());
      const lean = leanTracer(sampler());
      [sdk, lean].forEach(({ tracer }) => {
        for (const parent of [SAMPLED, UNSAMPLED, undefined]) {
          const span = startSpanFixed(tracer, 'deliver', SpanKind.CLIENT, remoteParent(parent), KEYS, ['e-1', 'http://s/', undefined, undefined, null as unknown as string, ['a', 'b']], 1_700_000_000_500);
          span.setAttribute('http.response.status_code', 503);
          span.setAttribute('url.full', 'http://t/');
          span.setAttribute('x.other', true);
          span.setAttribute('error.type', undefined as unknown as string);
          span.end(1_700_000_000_750);
        }
        // No values at all: the keys are still there to be set.
        const bare = startSpanFixed(tracer, 'filter', SpanKind.CONSUMER, undefined, KEYS, [], 1_700_000_000_500);
        bare.setAttribute('error.type', 'append');
        bare.end(1_700_000_000_750);
      });
      assert.deepEqual(lean.spans().map(exported), sdk.spans().map(exported));
    });
  }

  test('fixed keys are distinct and non-empty', () => {
    assert.throws(() => new FixedKeys(['a', 'b', 'a']), /distinct/);
    assert.throws(() => new FixedKeys(['a', '']), /non-empty/);
  });

  test('pooled ids: hex of the right length, all different, over several refills', () => {
    const ids = new PooledIdGenerator();
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const traceId = ids.generateTraceId();
      const spanId = ids.generateSpanId();
      assert.match(traceId, /^[0-9a-f]{32}$/);
      assert.match(spanId, /^[0-9a-f]{16}$/);
      seen.add(traceId).add(spanId);
    }
    assert.equal(seen.size, 6000);
  });

  test('a sampled-out span still carries a context to propagate, unsampled', () => {
    const lean = leanTracer(new AlwaysOffSampler());
    const span = lean.tracer.startSpan('receive', {}, REMOTE);
    assert.equal(span.isRecording(), false);
    assert.equal(span.spanContext().traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(span.spanContext().traceFlags, 0);
    span.end();
    assert.deepEqual(lean.spans(), []);
  });

  test('startActiveSpan runs the function with the span', () => {
    const lean = leanTracer(new AlwaysOnSampler());
    const name = lean.tracer.startActiveSpan('op', { kind: SpanKind.INTERNAL }, (span) => {
      span.end();
      return 'done';
    });
    assert.equal(name, 'done');
    assert.equal(lean.spans()[0]!.name, 'op');
  });

  test('a __proto__ attribute is an attribute, not a prototype', () => {
    const lean = leanTracer(new AlwaysOnSampler());
    const span = lean.tracer.startSpan('x');
    span.setAttribute('__proto__', 'p');
    span.end();
    const attributes = lean.spans()[0]!.attributes;
    assert.equal(Object.getPrototypeOf(attributes), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(attributes, '__proto__')?.value, 'p');
  });

  test('without a start time: now, in the SDK clock', () => {
    const lean = leanTracer(new AlwaysOnSampler());
    const before = Date.now();
    lean.tracer.startSpan('x').end();
    const [s, ns] = lean.spans()[0]!.startTime;
    const ms = s * 1000 + ns / 1e6;
    assert.ok(ms >= before - 5 && ms <= Date.now() + 5, `${ms} near ${before}`);
  });
});
