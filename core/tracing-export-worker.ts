/**
 * The OTLP export worker (a worker_thread; started by core/tracing-export.ts). It receives the
 * main thread's ended spans as compact batches (core/tracing-wire.ts), in a slot of memory shared
 * with the main thread or, when none was free, in a transferred buffer; encodes each span's OTLP
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
import type { ToExportWorker, ExportWorkerData, FromExportWorker } from './tracing-export.js';

const port = parentPort;
if (port === null) throw new Error('core/tracing-export-worker.ts runs as a worker thread only');
const data = workerData as ExportWorkerData;
const processor = new BatchSpanProcessor(otlpExporter(data.url), { ...data.batch });
const encoder = new OtlpSpanEncoder();
const slots = new Uint8Array(data.slots);
const slotFree = new Int32Array(data.slotFree);

const reply = (message: FromExportWorker): void => port.postMessage(message);

port.on('message', (message: ToExportWorker) => {
  switch (message.type) {
    case 'spans': {
      const { batch, slot } = message;
      let spans;
      if (batch.bytes !== undefined) spans = encoder.encode(batch, new Uint8Array(batch.bytes, 0, batch.length));
      else {
        try {
          spans = encoder.encode(batch, slots.subarray(slot * data.slotBytes, slot * data.slotBytes + batch.length));
        } finally {
          Atomics.store(slotFree, slot, 1);
        }
      }
      // The processor reads a span's sampled flag and its resource's asyncAttributesPending; the
      // exporter it hands them to is ours (core/tracing-otlp-exporter.ts).
      for (const span of spans) processor.onEnd(span as unknown as ReadableSpan);
      return;
    }
    case 'flush':
      void processor.forceFlush().then(() => reply({ type: 'done', id: message.id }), (error: unknown) => reply({ type: 'done', id: message.id, error: String(error) }));
      return;
    case 'shutdown':
      void processor.shutdown().then(() => reply({ type: 'done', id: message.id }), (error: unknown) => reply({ type: 'done', id: message.id, error: String(error) })).finally(() => port.close());
      return;
    default: {
      const never: never = message;
      return never;
    }
  }
});
reply({ type: 'ready' });
