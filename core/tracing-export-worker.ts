/**
 * The OTLP export worker (a worker_thread; started by core/tracing-export.ts). It takes the
 * main thread's ended spans as compact batches (core/tracing-wire.ts), from slots of memory shared
 * with the main thread that it polls while spans come, or by message (a batch that adds to the
 * string tables, or in a transferred buffer when no slot was free), in order; encodes each span's OTLP
 * protobuf at once (core/tracing-otlp.ts), frees the slot, and runs the SDK's batch span processor
 * and the OTLP/HTTP exporter's transport on the encoded spans, so that the encoding and the HTTP
 * requests cost the main thread's event loop nothing.
 *
 * The batch processor reads OTEL_BSP_SCHEDULE_DELAY and OTEL_BSP_EXPORT_TIMEOUT, and the exporter
 * OTEL_EXPORTER_OTLP_HEADERS, its timeout and compression, from this thread's environment: the
 * parent's, as worker_threads share process.env by default.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BatchSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { OtlpSpanEncoder } from './tracing-otlp.js';
import { otlpExporter } from './tracing-otlp-exporter.js';
import { AWAKE, IDLE_POLLS, POLL_MS, SLOT_FREE, SLOT_FULL, slotWord, type ToExportWorker, type ExportWorkerData, type FromExportWorker } from './tracing-export.js';
import type { WireBatch } from './tracing-wire.js';

const port = parentPort;
if (port === null) throw new Error('core/tracing-export-worker.ts runs as a worker thread only');
const data = workerData as ExportWorkerData;
const processor = new BatchSpanProcessor(otlpExporter(data.url), { ...data.batch });
const encoder = new OtlpSpanEncoder();
const slots = new Uint8Array(data.slots);
const control = new Int32Array(data.control);
const slotCount = slots.length / data.slotBytes;

const reply = (message: FromExportWorker): void => port.postMessage(message);

/** The next batch to take, by sequence number; batches that came by message before their turn. */
let next = 0;
const early = new Map<number, { batch: WireBatch; slot: number }>();

function take(batch: WireBatch, slot: number): void {
  let spans;
  if (slot < 0) spans = encoder.encode(batch, new Uint8Array(batch.bytes!, 0, batch.length));
  else {
    try {
      spans = encoder.encode(batch, slots.subarray(slot * data.slotBytes, slot * data.slotBytes + batch.length));
    } finally {
      Atomics.store(control, slotWord(slot), SLOT_FREE);
    }
  }
  // The processor reads a span's sampled flag and its resource's asyncAttributesPending; the
  // exporter it hands them to is ours (core/tracing-otlp-exporter.ts).
  for (const span of spans) processor.onEnd(span as unknown as ReadableSpan);
}

/** The full slot holding batch `seq`, or -1. */
function slotOf(seq: number): number {
  for (let slot = 0; slot < slotCount; slot++) {
    const word = slotWord(slot);
    if (Atomics.load(control, word) === SLOT_FULL && control[word + 1] === seq) return slot;
  }
  return -1;
}

/** Takes the batches that are there, in order; whether there was any. */
function drain(): boolean {
  let took = false;
  for (;;) {
    const sent = early.get(next);
    if (sent !== undefined) {
      early.delete(next);
      take(sent.batch, sent.slot);
    } else {
      const slot = slotOf(next);
      if (slot < 0) return took;
      const word = slotWord(slot);
      // A batch a slot carries alone adds nothing to the string, resource or scope tables.
      take({ bytes: undefined, length: control[word + 2]!, count: control[word + 3]!, strings: [], resources: [], scopes: [] }, slot);
    }
    next++;
    took = true;
  }
}

let poller: NodeJS.Timeout | undefined;
let idlePolls = 0;

function poll(): void {
  if (drain()) {
    idlePolls = 0;
    return;
  }
  if (++idlePolls < IDLE_POLLS) return;
  // Idle: stop polling, and say so before a last look (core/tracing-export.ts, post).
  clearInterval(poller);
  poller = undefined;
  Atomics.store(control, AWAKE, 0);
  if (drain() && Atomics.compareExchange(control, AWAKE, 0, 1) === 0) awake();
}

function awake(): void {
  Atomics.store(control, AWAKE, 1);
  idlePolls = 0;
  poller ??= setInterval(poll, POLL_MS);
}

port.on('message', (message: ToExportWorker) => {
  switch (message.type) {
    case 'spans':
      early.set(message.seq, { batch: message.batch, slot: message.slot });
      drain();
      awake();
      return;
    case 'wake':
      drain();
      awake();
      return;
    case 'flush':
      // Every batch posted before the flush is here: its slot was marked before this message was sent.
      drain();
      void processor.forceFlush().then(() => reply({ type: 'done', id: message.id }), (error: unknown) => reply({ type: 'done', id: message.id, error: String(error) }));
      return;
    case 'shutdown':
      drain();
      clearInterval(poller);
      void processor.shutdown().then(() => reply({ type: 'done', id: message.id }), (error: unknown) => reply({ type: 'done', id: message.id, error: String(error) })).finally(() => port.close());
      return;
    default: {
      const never: never = message;
      return never;
    }
  }
});
reply({ type: 'ready' });
