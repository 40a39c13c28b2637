import { Worker } from 'node:worker_threads';
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { BrokerError } from './errors.js';
import { WirePacker, type WireBatch } from './tracing-wire.js';

/**
 * OTLP export off the main thread. At 100 % sampling the OTLP exporter's protobuf encoding and
 * HTTP requests cost about as much CPU as making the spans (docs/tracing.md, Cost); here they run
 * in a worker thread (core/tracing-export-worker.ts), and the main thread only writes each ended
 * span into a buffer (core/tracing-wire.ts), which it hands over every POST_EVERY spans, or
 * POST_DELAY_MS after the first span waiting: copied into a free slot of memory shared with the
 * worker and marked full there. The worker polls the slots every POLL_MS while spans come, so a
 * busy main thread sends it no message at all: a postMessage wakes the worker, and on a busy
 * machine that wake-up often took the core from the main thread in the middle of the call. A
 * message is sent only for what the slots cannot say: a batch that adds to the string, resource
 * or scope tables (start-up, mostly), one larger than a slot or with no slot free (its bytes
 * transferred), and a wake-up when the worker, idle for a while, stopped polling. Batches carry
 * a sequence number and the worker takes them in order, slot or message.
 *
 *   main thread                                          export worker
 *   span.end() ─▶ WorkerSpanProcessor.onEnd ─ pack ─▶ ┄┄ shared slot ┄┄▶ (poll) encode OTLP ─▶ BatchSpanProcessor ─▶ OTLP/HTTP ─▶ collector
 *
 * The worker's batch span processor keeps the SDK's semantics: its queue bound (spans past it are
 * dropped), batch size, schedule delay and export timeout. forceFlush and shutdown first post
 * what waits here, then ask the worker to flush (or shut down) and wait for its answer, so spans
 * ended before either are exported.
 */

export interface ExportWorkerData {
  readonly url: string;
  readonly batch: { readonly maxQueueSize: number; readonly maxExportBatchSize: number };
  /** SLOTS slots of slotBytes each, shared. */
  readonly slots: SharedArrayBuffer;
  readonly slotBytes: number;
  /** Int32 words: AWAKE, then per slot (slotWord) its state (SLOT_*), sequence number, byte length and span count. */
  readonly control: SharedArrayBuffer;
}

/** control[AWAKE] is 1 while the worker polls the slots, 0 once it waits for a message. */
export const AWAKE = 0;
/** The slot is the main thread's to fill. */
export const SLOT_FREE = 0;
/** The slot holds a batch the worker takes when it polls. */
export const SLOT_FULL = 1;
/** The slot holds the bytes of a batch whose message is on its way. */
export const SLOT_SENT = 2;
/** The index in `control` of a slot's state; its sequence number, length and count follow. */
export const slotWord = (slot: number): number => 1 + 4 * slot;
/** How often the worker looks at the slots while spans come. */
export const POLL_MS = 25;
/** After this many empty polls in a row (a second), the worker stops polling until woken. */
export const IDLE_POLLS = 40;

export type ToExportWorker =
  /** Batch `seq`; its bytes are in `slot` unless `batch.bytes` carries them. */
  | { readonly type: 'spans'; readonly seq: number; readonly batch: WireBatch; readonly slot: number }
  /** Slots are full and the worker had stopped polling. */
  | { readonly type: 'wake' }
  | { readonly type: 'flush'; readonly id: number }
  | { readonly type: 'shutdown'; readonly id: number };

export type FromExportWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'done'; readonly id: number; readonly error?: string };

/** Spans per batch. */
const POST_EVERY = 1024;
/** Or when this many bytes wait (spans with large attributes). */
const POST_BYTES = 384 * 1024;
/** How long the first waiting span waits for others before it is posted alone. */
const POST_DELAY_MS = 200;
/**
 * Slots of shared memory: a batch fits in one (POST_BYTES and the last span), and the worker may
 * be a few behind (at 20,000 spans a second, a poll every POLL_MS sees one or two full).
 */
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
  private nextSeq = 0;

  private constructor(private readonly worker: Worker, private readonly slots: Uint8Array, private readonly control: Int32Array) {
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
    const data: ExportWorkerData = { ...settings, slots: new SharedArrayBuffer(SLOTS * SLOT_BYTES), slotBytes: SLOT_BYTES, control: new SharedArrayBuffer(4 * slotWord(SLOTS)) };
    const control = new Int32Array(data.control);
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
    return new WorkerSpanProcessor(worker, new Uint8Array(data.slots), control);
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
    const seq = this.nextSeq++;
    const slot = this.freeSlot();
    const batch = this.packer.take(slot < 0 ? undefined : this.slots.subarray(slot * SLOT_BYTES, (slot + 1) * SLOT_BYTES));
    const control = this.control;
    if (batch.bytes === undefined) {
      const word = slotWord(slot);
      control[word + 1] = seq;
      control[word + 2] = batch.length;
      control[word + 3] = batch.count;
      if (batch.strings.length === 0 && batch.resources.length === 0 && batch.scopes.length === 0) {
        // The store publishes the words above; the worker reads them after it reads SLOT_FULL.
        Atomics.store(control, word, SLOT_FULL);
        // The worker sets AWAKE to 0 and then looks at the slots once more: either it sees this
        // slot or this sees 0 (both sides use sequentially consistent atomics).
        if (Atomics.load(control, AWAKE) === 0 && Atomics.compareExchange(control, AWAKE, 0, 1) === 0) this.send({ type: 'wake' });
        return;
      }
      Atomics.store(control, word, SLOT_SENT);
    }
    this.send({ type: 'spans', seq, batch, slot: batch.bytes === undefined ? slot : -1 }, batch.bytes === undefined ? [] : [batch.bytes]);
  }

  private send(message: ToExportWorker, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(message, transfer);
  }

  /** A slot the worker is done with, or -1. */
  private freeSlot(): number {
    for (let i = 0; i < SLOTS; i++) {
      const slot = (this.nextSlot + i) % SLOTS;
      if (Atomics.load(this.control, slotWord(slot)) === SLOT_FREE) {
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
