/**
 * The OTLP export worker (a worker_thread; started by core/tracing-export.ts). It receives the
 * main thread's ended spans as compact batches (core/tracing-wire.ts), rebuilds them, and runs
 * the OpenTelemetry SDK's batch span processor and OTLP/HTTP protobuf exporter on them, so that
 * the protobuf encoding and the HTTP requests cost the main thread's event loop nothing.
 *
 * The batch processor reads OTEL_BSP_SCHEDULE_DELAY and OTEL_BSP_EXPORT_TIMEOUT, and the exporter
 * OTEL_EXPORTER_OTLP_HEADERS and its timeouts, from this thread's environment: the parent's,
 * as worker_threads share process.env by default.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { WireUnpacker, type WireBatch } from './tracing-wire.js';
import type { ToExportWorker, ExportWorkerData, FromExportWorker } from './tracing-export.js';

const port = parentPort;
if (port === null) throw new Error('core/tracing-export-worker.ts runs as a worker thread only');
const data = workerData as ExportWorkerData;
const processor = new BatchSpanProcessor(new OTLPTraceExporter({ url: data.url }), { ...data.batch });
const unpacker = new WireUnpacker(resourceFromAttributes);

const reply = (message: FromExportWorker): void => port.postMessage(message);

port.on('message', (message: ToExportWorker) => {
  switch (message.type) {
    case 'spans':
      for (const span of unpacker.unpack(message.batch as WireBatch)) processor.onEnd(span);
      return;
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
