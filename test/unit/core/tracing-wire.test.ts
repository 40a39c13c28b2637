import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SpanKind, SpanStatusCode, trace, ROOT_CONTEXT, type Attributes } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { OtlpSpanEncoder, otlpTraceRequest, type EncodedSpan } from '../../../core/tracing-otlp.js';
import { LeanTracer, PooledIdGenerator } from '../../../core/tracing-tracer.js';
import { FixedKeys, startSpanFixed } from '../../../core/tracing.js';
import { WirePacker } from '../../../core/tracing-wire.js';

/** Spans made by the SDK, ended, as its exporters get them. */
function sdkSpans(make: (tracer: ReturnType<BasicTracerProvider['getTracer']>) => void): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'wire-test', 'deployment.environment': 'test' }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  make(provider.getTracer('kafka-broker'));
  return exporter.getFinishedSpans();
}

const REMOTE = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1, isRemote: true, traceState: new TraceState('vendor=a,other=b'),
});

/** The OTLP request the exporter would send, the same bytes whatever object carried the spans. */
const otlp = (spans: ReadableSpan[]): Buffer => Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!);

/**
 * The spans through the wire as the export worker gets them (alternately in a shared slot and in
 * a transferred buffer), encoded there, as one request.
 */
function throughWorker(spans: ReadableSpan[], batches = 1): Buffer {
  const packer = new WirePacker();
  const encoder = new OtlpSpanEncoder();
  const slot = new Uint8Array(new SharedArrayBuffer(64 * 1024));
  const out: EncodedSpan[] = [];
  const per = Math.ceil(spans.length / batches);
  for (let i = 0; i < spans.length; i += per) {
    for (const span of spans.slice(i, i + per)) packer.add(span);
    const batch = structuredClone(packer.take(i % 2 === 0 ? slot : undefined));
    out.push(...encoder.encode(batch, batch.bytes === undefined ? slot : new Uint8Array(batch.bytes, 0, batch.length)));
  }
  return Buffer.from(otlpTraceRequest(out));
}

describe('tracing wire: spans to the export worker, encoded there as OTLP', () => {
  const cases: [string, (tracer: ReturnType<BasicTracerProvider['getTracer']>) => void][] = [
    ['a root span with string, number, boolean and array attributes', (tracer) => {
      tracer.startSpan('receive', { kind: SpanKind.SERVER, attributes: { 'url.path': '/ns/default', 'http.response.status_code': 202, 'x.ratio': 0.25, 'x.ok': true, 'x.no': false, 'x.list': ['a', 'b'] } }).end();
    }],
    ['bare spans, their messages under 128 bytes (a length of one byte)', (tracer) => {
      tracer.startSpan('x').end();
      tracer.startSpan('y', { kind: SpanKind.INTERNAL }).end();
    }],
    ['a remote parent with a trace state, and a child of it in process', (tracer) => {
      const receive = tracer.startSpan('receive', { kind: SpanKind.SERVER }, REMOTE);
      tracer.startSpan('append', { kind: SpanKind.PRODUCER, attributes: { 'messaging.destination.name': 't' } }, trace.setSpan(ROOT_CONTEXT, receive)).end();
      receive.end();
    }],
    ['a failed span with an error status and message', (tracer) => {
      const span = tracer.startSpan('deliver', { kind: SpanKind.CLIENT });
      span.setAttribute('error.type', '503');
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'HTTP 503' });
      span.end();
    }],
    ['links (with a trace state and attributes) and events', (tracer) => {
      const linked = trace.getSpanContext(REMOTE)!;
      const span = tracer.startSpan('receive', { links: [{ context: linked, attributes: { why: 'extension' } }, { context: { ...linked, traceState: undefined, isRemote: false } }] });
      span.addEvent('retry', { attempt: 2 });
      span.addEvent('plain');
      span.end();
    }],
    ['numbers: negative, beyond 32 bits, fractional, in arrays', (tracer) => {
      tracer.startSpan('filter', { attributes: { a: -1, b: 2 ** 40, c: -(2 ** 40), d: 1.5, e: 0, f: [1, 2.5, -3], g: [true, false], h: 2 ** 60, i: -0.001, j: 4294967295, k: 4294967296 } }).end();
    }],
    ['times: start and end given, and sub-millisecond', (tracer) => {
      tracer.startSpan('deliver', { startTime: [1_700_000_000, 999_999_999] }).end([1_800_000_000, 1]);
      tracer.startSpan('deliver', { startTime: [4_000_000_000, 123_456_789] }).end([4_000_000_001, 0]);
    }],
    ['non-ASCII text and an empty string', (tracer) => {
      tracer.startSpan('receive', { attributes: { 'cloudevents.event_source': '/größe/東京', 'cloudevents.event_id': '' } }).end();
    }],
  ];
  for (const [name, make] of cases) {
    test(`${name}: the same OTLP bytes`, () => {
      const spans = sdkSpans(make);
      assert.ok(spans.length > 0);
      assert.deepEqual(throughWorker(spans), otlp(spans));
    });
  }

  test('many spans over several batches (buffers grow, tables carry over): the same OTLP bytes', () => {
    const big = 'x'.repeat(70_000);
    const spans = sdkSpans((tracer) => {
      for (let i = 0; i < 600; i++) {
        const attributes: Attributes = { 'cloudevents.event_id': `e-${i}`, [`key.${i % 7}`]: i };
        if (i === 300) attributes['big'] = big;
        tracer.startSpan(i % 2 === 0 ? 'filter' : 'deliver', { attributes }).end();
      }
    });
    const bytes = throughWorker(spans, 3);
    assert.ok(bytes.includes(Buffer.from(big)));
    assert.deepEqual(bytes, otlp(spans));
  });

  test("the lean tracer's fixed attributes, written without an attribute object: the same OTLP bytes as its attributes", () => {
    const exporter = new InMemorySpanExporter();
    const tracer = new LeanTracer(new AlwaysOnSampler(), new PooledIdGenerator(), resourceFromAttributes({ 'service.name': 'wire-test' }), { name: 'kafka-broker' }, new SimpleSpanProcessor(exporter));
    const keys = [
      new FixedKeys(['cloudevents.event_id', 'messaging.kafka.offset', 'kafka_broker.filter.matched', 'x.list', 'x.unset']),
      new FixedKeys(['cloudevents.event_id', 'url.full', 'http.response.status_code', 'error.type']),
    ];
    const parent = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1, isRemote: true };
    for (let i = 0; i < 300; i++) {
      startSpanFixed(tracer, 'filter', SpanKind.CONSUMER, parent, keys[0]!, [`e-${i}`, i, i % 2 === 0, ['a', 'b'], undefined]).end();
      const deliver = startSpanFixed(tracer, 'deliver', SpanKind.CLIENT, parent, keys[1]!, [`e-${i}`, 'http://sub/ü']);
      deliver.setAttribute('http.response.status_code', 200 + i);
      if (i % 3 === 0) deliver.setAttribute('x.later', 'more');
      deliver.end();
    }
    const spans = exporter.getFinishedSpans();
    assert.equal(spans.length, 600);
    assert.deepEqual(spans[1]!.attributes, { 'cloudevents.event_id': 'e-0', 'url.full': 'http://sub/ü', 'http.response.status_code': 200, 'x.later': 'more' });
    assert.deepEqual(throughWorker(spans, 2), otlp(spans));
  });

  test('a span naming a resource never sent is refused', () => {
    const spans = sdkSpans((tracer) => tracer.startSpan('x').end());
    const packer = new WirePacker();
    packer.add(spans[0]!);
    packer.take();
    packer.add(spans[0]!);
    const batch = packer.take();
    assert.throws(() => new OtlpSpanEncoder().encode(batch, new Uint8Array(batch.bytes!)), /never sent/);
  });
});
