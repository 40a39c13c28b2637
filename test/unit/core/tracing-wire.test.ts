import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SpanKind, SpanStatusCode, trace, ROOT_CONTEXT, type Attributes, type Span } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { WirePacker, WireUnpacker } from '../../../core/tracing-wire.js';

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

function roundTrip(spans: ReadableSpan[], batches = 1): ReadableSpan[] {
  const packer = new WirePacker();
  const unpacker = new WireUnpacker(resourceFromAttributes);
  const out: ReadableSpan[] = [];
  const per = Math.ceil(spans.length / batches);
  for (let i = 0; i < spans.length; i += per) {
    for (const span of spans.slice(i, i + per)) packer.add(span);
    const batch = structuredClone(packer.take());
    out.push(...unpacker.unpack(batch));
  }
  return out;
}

describe('tracing wire: spans to the export worker and back', () => {
  const cases: [string, (tracer: ReturnType<BasicTracerProvider['getTracer']>) => void][] = [
    ['a root span with string, number, boolean and array attributes', (tracer) => {
      tracer.startSpan('receive', { kind: SpanKind.SERVER, attributes: { 'url.path': '/ns/default', 'http.response.status_code': 202, 'x.ratio': 0.25, 'x.ok': true, 'x.no': false, 'x.list': ['a', 'b'] } }).end();
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
    ['non-ASCII text and an empty string', (tracer) => {
      tracer.startSpan('receive', { attributes: { 'cloudevents.event_source': '/größe/東京', 'cloudevents.event_id': '' } }).end();
    }],
  ];
  for (const [name, make] of cases) {
    test(`${name}: the same OTLP bytes`, () => {
      const spans = sdkSpans(make);
      assert.ok(spans.length > 0);
      assert.deepEqual(otlp(roundTrip(spans)), otlp(spans));
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
    const back = roundTrip(spans, 3);
    assert.equal(back.length, 600);
    assert.equal(back[300]!.attributes['big'], big);
    assert.deepEqual(otlp(back), otlp(spans));
  });

  test('a rebuilt span reads as ended, with its duration', () => {
    const spans = sdkSpans((tracer) => {
      const span: Span = tracer.startSpan('filter', { startTime: [1_700_000_000, 900_000_000] });
      span.end([1_700_000_001, 100_000_000]);
    });
    const [back] = roundTrip(spans);
    assert.equal(back!.ended, true);
    assert.deepEqual(back!.duration, [0, 200_000_000]);
    assert.deepEqual(back!.duration, spans[0]!.duration);
  });

  test('a span naming a resource never sent is refused', () => {
    const spans = sdkSpans((tracer) => tracer.startSpan('x').end());
    const packer = new WirePacker();
    packer.add(spans[0]!);
    packer.take();
    packer.add(spans[0]!);
    assert.throws(() => new WireUnpacker(resourceFromAttributes).unpack(packer.take()), /never sent/);
  });
});
