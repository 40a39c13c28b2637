import { Worker } from 'node:worker_threads';
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { BrokerError } from './errors.js';
import { WirePacker, type WireBatch } from './tracing-wire.js';

/**
 * OTLP export off the main thread. At 100 % sampling the OTLP exporter's protobuf encoding and
 * HTTP requests cost about as much CPU as making the spans (docs/tracing.md, Cost); here they run
 * in a worker thread (core/tracing-export-worker.ts), and the main thread only writes each ended
 * span into a buffer (core/tracing-wire.ts), which it transfers to the worker every POST_EVERY
 * spans, or POST_DELAY_MS after the first span waiting.
 *
 *   main thread                                         export worker
 *   span.end() ─▶ WorkerSpanProcessor.onEnd ─ pack ─▶ ┄┄ postMessage ┄┄▶ unpack ─▶ BatchSpanProcessor ─▶ OTLPTraceExporter ─▶ collector
 *
 * The worker's batch span processor keeps the SDK's semantics: its queue bound (spans past it are
 * dropped), batch size, schedule delay and export timeout. forceFlush and shutdown first post
 * what waits here, then ask the worker to flush (or shut down) and wait for its answer, so spans
 * ended before either are exported.
 */

export interface ExportWorkerData {
  readonly url: string;
  readonly batch: { readonly maxQueueSize: number; readonly maxExportBatchSize: number };
}

export type ToExportWorker =
  | { readonly type: 'spans'; readonly batch: WireBatch }
  | { readonly type: 'flush'; readonly id: number }
  | { readonly type: 'shutdown'; readonly id: number };

export type FromExportWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'done'; readonly id: number; readonly error?: string };

/** Spans per message: large enough that a message's fixed cost is small per span, small enough to keep the copy short. */
const POST_EVERY = 256;
/** Or when this many bytes wait (spans with large attributes). */
const POST_BYTES = 96 * 1024;
/** How long the first waiting span waits for others before it is posted alone. */
const POST_DELAY_MS = 200;

export class WorkerSpanProcessor implements SpanProcessor {
  private readonly packer = new WirePacker();
  private timer: NodeJS.Timeout | undefined;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve(): void; reject(error: Error): void }>();
  private stopped = false;
  private failure: Error | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (message: FromExportWorker) => {
      if (message.type !== 'done') return;
      const pending = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      if (this.waiting.size === 0) worker.unref();
      if (message.error === undefined) pending?.resolve();
      else pending?.reject(new Error(`OTLP export: ${message.error}`));
    });
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', () => this.fail(new Error('the OTLP export worker stopped')));
  }

  /** Starts the worker and waits until it is ready; one that cannot start is a one-line error at start-up. */
  static async start(data: ExportWorkerData): Promise<WorkerSpanProcessor> {
    const worker = startWorker(data);
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(new BrokerError('INTERNAL', `tracing: the OTLP export worker failed to start: ${error.message.split('\n')[0] ?? ''}`));
      worker.once('error', onError);
      worker.once('message', (message: FromExportWorker) => {
        worker.off('error', onError);
        if (message.type === 'ready') resolve();
        else onError(new Error(`unexpected first message ${message.type}`));
      });
    });
    // Idle, the worker does not keep the process alive; while a flush is awaited it does (ref()).
    worker.unref();
    return new WorkerSpanProcessor(worker);
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.stopped || (span.spanContext().traceFlags & 1) === 0) return;
    this.packer.add(span);
    if (this.packer.count >= POST_EVERY || this.packer.bytes >= POST_BYTES) this.post();
    else this.timer ??= setTimeout(() => this.post(), POST_DELAY_MS).unref();
  }

  forceFlush(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return this.ask('flush');
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.ask('shutdown');
    } finally {
      this.stopped = true;
      await this.worker.terminate();
    }
  }

  private post(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.packer.count === 0 || this.failure !== undefined) return;
    const batch = this.packer.take();
    const message: ToExportWorker = { type: 'spans', batch };
    this.worker.postMessage(message, [batch.bytes]);
  }

  private ask(type: 'flush' | 'shutdown'): Promise<void> {
    this.post();
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const id = this.nextId++;
    this.worker.ref();
    const answered = new Promise<void>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    const message: ToExportWorker = { type, id };
    this.worker.postMessage(message);
    return answered;
  }

  private fail(error: Error): void {
    if (this.stopped) return;
    this.failure ??= error;
    for (const pending of this.waiting.values()) pending.reject(error);
    this.waiting.clear();
  }
}

/**
 * The worker runs the module beside this one: compiled JavaScript in an installed package
 * (dist/core/), TypeScript in a checkout run through tsx. A worker thread does not inherit
 * loader hooks registered with module.register() (bin/kafka-broker.js does so), so for the
 * TypeScript entry the worker registers tsx itself before importing it.
 */
function startWorker(data: ExportWorkerData): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL('./tracing-export-worker.js', self), { workerData: data });
  const entry = new URL('./tracing-export-worker.ts', self).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: data });
}
