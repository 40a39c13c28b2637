import { Worker } from 'node:worker_threads';
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { BrokerError } from './errors.js';
import { WirePacker, type WireBatch } from './tracing-wire.js';

/**
 * OTLP export off the main thread. At 100 % sampling the OTLP exporter's protobuf encoding and
 * HTTP requests cost about as much CPU as making the spans (docs/tracing.md, Cost); here they run
 * in a worker thread (core/tracing-export-worker.ts), and the main thread only writes each ended
 * span into a buffer (core/tracing-wire.ts), which it hands to the worker every POST_EVERY spans,
 * or POST_DELAY_MS after the first span waiting: copied into a free slot of memory shared with
 * the worker, with a small message saying which. (Transferring a fresh ArrayBuffer per batch
 * instead held the main thread 0.1 to 0.4 ms a message on the busy machine, a few µs per event.)
 * Messages stay in order, slot or not, so the string table grows in order. When no slot is free (the
 * worker is behind) or a batch is larger than a slot, its bytes are transferred as before.
 *
 *   main thread                                          export worker
 *   span.end() ─▶ WorkerSpanProcessor.onEnd ─ pack ─▶ ┄┄ slot + postMessage ┄┄▶ encode OTLP ─▶ BatchSpanProcessor ─▶ OTLP/HTTP ─▶ collector
 *
 * The worker's batch span processor keeps the SDK's semantics: its queue bound (spans past it are
 * dropped), batch size, schedule delay and export timeout. forceFlush and shutdown first post
 * what waits here, then ask the worker to flush (or shut down) and wait for its answer, so spans
 * ended before either are exported.
 */

export interface ExportWorkerData {
  readonly url: string;
  readonly batch: { readonly maxQueueSize: number; readonly maxExportBatchSize: number };
  /** SLOTS slots of slotBytes each, shared; slotFree[i] is 1 while slot i is the main thread's to fill. */
  readonly slots: SharedArrayBuffer;
  readonly slotBytes: number;
  readonly slotFree: SharedArrayBuffer;
}

export type ToExportWorker =
  /** The batch's bytes are in `slot` unless `batch.bytes` carries them. */
  | { readonly type: 'spans'; readonly batch: WireBatch; readonly slot: number }
  | { readonly type: 'flush'; readonly id: number }
  | { readonly type: 'shutdown'; readonly id: number };

export type FromExportWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'done'; readonly id: number; readonly error?: string };

/**
 * Spans per message. Each message wakes the worker, and on a busy machine the wake-up often
 * hands the core to the worker in the middle of postMessage (seen in profiles of the main thread
 * as up to a few percent of its time in postMessage at 256); 1024 makes that four times rarer.
 */
const POST_EVERY = 1024;
/** Or when this many bytes wait (spans with large attributes). */
const POST_BYTES = 384 * 1024;
/** How long the first waiting span waits for others before it is posted alone. */
const POST_DELAY_MS = 200;
/** Slots of shared memory: a batch fits in one (POST_BYTES and the last span), and the worker may be a few behind. */
const SLOTS = 6;
const SLOT_BYTES = 512 * 1024;

export class WorkerSpanProcessor implements SpanProcessor {
  private readonly packer = new WirePacker();
  private timer: NodeJS.Timeout | undefined;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve(): void; reject(error: Error): void }>();
  private stopped = false;
  private failure: Error | undefined;
  private nextSlot = 0;

  private constructor(private readonly worker: Worker, private readonly slots: Uint8Array, private readonly slotFree: Int32Array) {
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
  static async start(settings: Pick<ExportWorkerData, 'url' | 'batch'>): Promise<WorkerSpanProcessor> {
    const data: ExportWorkerData = { ...settings, slots: new SharedArrayBuffer(SLOTS * SLOT_BYTES), slotBytes: SLOT_BYTES, slotFree: new SharedArrayBuffer(4 * SLOTS) };
    const slotFree = new Int32Array(data.slotFree);
    slotFree.fill(1);
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
    return new WorkerSpanProcessor(worker, new Uint8Array(data.slots), slotFree);
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
    const slot = this.freeSlot();
    const batch = this.packer.take(slot < 0 ? undefined : this.slots.subarray(slot * SLOT_BYTES, (slot + 1) * SLOT_BYTES));
    const message: ToExportWorker = { type: 'spans', batch, slot: batch.bytes === undefined ? slot : -1 };
    if (batch.bytes === undefined) Atomics.store(this.slotFree, slot, 0);
    this.worker.postMessage(message, batch.bytes === undefined ? [] : [batch.bytes]);
  }

  /** A slot the worker is done with, or -1. */
  private freeSlot(): number {
    for (let i = 0; i < SLOTS; i++) {
      const slot = (this.nextSlot + i) % SLOTS;
      if (Atomics.load(this.slotFree, slot) === 1) {
        this.nextSlot = (slot + 1) % SLOTS;
        return slot;
      }
    }
    return -1;
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
