/**
 * Tracing's work per event, without the rest of the broker (issue 18): CPU µs per event of the
 * spans the ingress makes (receive, append) and the dispatcher makes per delivery (filter,
 * deliver), by the call sites' own code, on each side of the OTLP export worker, in one thread so
 * that process.cpuUsage() counts that work alone:
 *
 *   main    the call sites (broker-ingress/tracing.ts, dispatcher/tracing.ts) with the lean
 *           tracer, always_on, and each ended span packed (core/tracing-wire.ts), every 1024
 *           copied out as for a shared slot
 *   worker  the packed batches encoded as OTLP protobuf (core/tracing-otlp.ts) and serialised
 *           as requests of 2048 spans (no HTTP)
 *
 * Beside the CPU, the bytes the main thread allocates per event (new space used over 200 events
 * right after a full GC, median of 30 such runs): garbage the event loop's scavenges must handle.
 *
 * This is the part of tracing's cost that is ours to cut; test/bench/tracing.bench.ts measures
 * the whole, which on a busy machine swings far more. A figure, never a pass/fail.
 *
 *   npx tsx test/bench/tracing-spans.bench.ts        (or: npm run bench -- tracing-spans)
 */
import { getHeapSpaceStatistics } from 'node:v8';
import type { Tracer } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { startIngressSpans } from '../../broker-ingress/tracing.js';
import type { IngressEntry } from '../../broker-ingress/ingress-table.js';
import type { CloudEvent } from '../../core/cloudevents/event.js';
import type { ConsumedRecord } from '../../core/event-log/port.js';
import { OtlpSpanEncoder, otlpTraceRequest, type EncodedSpan } from '../../core/tracing-otlp.js';
import { LeanTracer, PooledIdGenerator } from '../../core/tracing-tracer.js';
import { WirePacker, type WireBatch } from '../../core/tracing-wire.js';
import { spanStartTime } from '../../core/tracing.js';
import { RecordTrace } from '../../dispatcher/tracing.js';
import { makeBroker, makeEgress } from '../helpers/builders.js';
import { collectGarbage } from './paired.js';

const EVENTS = 20_480;
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 7);
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const PARENT = { traceparent: TRACEPARENT };

// The call sites' own code (broker-ingress/tracing.ts, dispatcher/tracing.ts), on events and
// records made beforehand: what they cost is the broker's, not this bench's.
const events: CloudEvent[][] = Array.from({ length: EVENTS }, (_, i) => [{ attributes: { specversion: '1.0', id: `e-${i}`, source: '/bench', type: 'dev.knative.bench' } }]);
const egress = makeEgress('t1', { destination: 'http://127.0.0.1:8080/' });
const broker = makeBroker('b', [egress]);
const entry: IngressEntry = { uid: broker.uid, path: '/default/b', topic: 'knative-broker-default-b', kind: 'Broker', contentMode: 'binary', reference: broker.reference, hopLimited: true };
const headers = { traceparent: Buffer.from(TRACEPARENT), ce_specversion: Buffer.from('1.0') };
const records: ConsumedRecord[] = Array.from({ length: EVENTS }, (_, i) => ({ topic: 'topic', partition: 0, offset: String(i), key: null, value: null, headers, timestamp: 0, done: () => {} }));
const OK = { kind: 'response', status: 200, headers: {}, body: Buffer.alloc(0), truncated: false } as const;

/** The ingress's spans for one request: receive and append, the record's context, both ended. */
function ingressEvent(tracer: Tracer, i: number): number {
  const spans = startIngressSpans(tracer, PARENT, entry, '/default/b', events[i]!, spanStartTime());
  const carried = spans.recordContext!.traceparent.length;
  spans.end();
  return carried;
}

/** The dispatcher's spans for one delivered record: filter, and one deliver attempt answered 200. */
function dispatchEvent(tracer: Tracer, i: number): number {
  const trace = RecordTrace.of(tracer, records[i]!, events[i]![0]!, broker, egress);
  trace.filtered(true, spanStartTime());
  const span = trace.attempt('deliver', trace.context, egress.destination, 1)!;
  const carried = span.headers!.traceparent.length;
  span.end(OK);
  return carried;
}

const cpuMicros = (): number => {
  const used = process.cpuUsage();
  return used.user + used.system;
};

const newSpaceUsed = (): number => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_used_size ?? NaN;

/** Bytes allocated per event by the main thread's side, warm; NaN where V8 reports no new space. */
function allocated(tracer: Tracer, event: (tracer: Tracer, i: number) => number): number {
  const CHUNK = 200;
  const perEvent: number[] = [];
  let carried = 0;
  for (let run = 0; run < 30; run++) {
    collectGarbage();
    const before = newSpaceUsed();
    for (let i = 0; i < CHUNK; i++) carried += event(tracer, i);
    const after = newSpaceUsed();
    // A scavenge in the middle empties the new space: that run says nothing.
    if (after > before) perEvent.push((after - before) / CHUNK);
  }
  if (carried < 0) console.log(carried);
  return median(perEvent);
}

function measure(event: (tracer: Tracer, i: number) => number): { main: number; worker: number; bytes: number } {
  const packer = new WirePacker();
  const slot = new Uint8Array(new SharedArrayBuffer(1024 * 1024));
  const batches: [WireBatch, Uint8Array][] = [];
  const processor: SpanProcessor = {
    onStart: () => {},
    onEnd: (span: ReadableSpan) => {
      packer.add(span);
      if (packer.count < 1024) return;
      const batch = packer.take(slot);
      batches.push([batch, slot.slice(0, batch.length)]);
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
  const tracer = new LeanTracer(new AlwaysOnSampler(), new PooledIdGenerator(), resourceFromAttributes({ 'service.name': 'bench' }), { name: 'kafka-broker' }, processor);
  const encoder = new OtlpSpanEncoder();
  let carried = 0;
  const mains: number[] = [];
  const workers: number[] = [];
  for (let round = 0; round < ROUNDS + 1; round++) {
    batches.length = 0;
    let started = cpuMicros();
    for (let i = 0; i < EVENTS; i++) carried += event(tracer, i);
    const main = (cpuMicros() - started) / EVENTS;
    started = cpuMicros();
    let pending: EncodedSpan[] = [];
    for (const [batch, bytes] of batches) {
      pending.push(...encoder.encode(batch, bytes));
      if (pending.length >= 2048) {
        carried += otlpTraceRequest(pending).length;
        pending = [];
      }
    }
    const worker = (cpuMicros() - started) / EVENTS;
    // The first round warms the JIT up.
    if (round > 0) {
      mains.push(main);
      workers.push(worker);
    }
  }
  if (carried < 0) console.log(carried);
  return { main: median(mains), worker: median(workers), bytes: allocated(tracer, event) };
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

console.log(`tracing's span work, CPU µs per event (medians of ${ROUNDS} rounds of ${EVENTS} events, one thread):`);
for (const [name, event] of [['ingress', ingressEvent], ['dispatch', dispatchEvent]] as const) {
  const { main, worker, bytes } = measure(event);
  console.log(`  ${name.padEnd(9)} main thread ${main.toFixed(2)} µs (spans made and packed)   export worker ${worker.toFixed(2)} µs (OTLP encoded)   total ${(main + worker).toFixed(2)} µs   main thread allocates ${bytes.toFixed(0)} bytes`);
}
