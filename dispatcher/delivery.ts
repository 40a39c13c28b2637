import { rootCertificates } from 'node:tls';
import { Agent, type Dispatcher } from 'undici';
import { Deadlines, type DeadlineList, type Expiring } from './deadlines.js';

/**
 * One HTTP attempt, and nothing else: no retries, no decisions. The dispatcher shares one
 * keep-alive connection pool per destination origin (undici's Agent keeps one Pool per origin),
 * so a busy egress reuses its connections instead of opening one per event.
 */

export interface HttpRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | undefined;
  /**
   * How many bytes of the response body the caller uses, by outcome (2xx or not). No more is
   * kept: the rest is read and thrown away (so the connection can be reused) up to the sender's
   * `maxResponseBytes`, past which the connection is closed instead. Default: `maxResponseBytes`.
   */
  readonly keepResponseBytes?: { readonly success: number; readonly failure: number } | undefined;
}

export type AttemptResult =
  | {
      readonly kind: 'response';
      readonly status: number;
      /** Lower-case names; repeated headers joined with ", ". */
      readonly headers: Readonly<Record<string, string>>;
      readonly body: Buffer;
      /** The body was longer than what was kept (`keepResponseBytes`, else the limit) and was cut there. */
      readonly truncated: boolean;
      /**
       * Whether a header of this lower-case name came, answered without turning the headers into
       * strings (a success's, see onHeaders); absent: ask `headers`.
       */
      readonly has?: (name: string) => boolean;
    }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'network'; readonly message: string }
  /** Given up because the caller's signal fired (shutdown, revocation), not the destination's fault. */
  | { readonly kind: 'aborted' };

/** What dispatch needs of an HTTP client: one attempt, resolved with its result, never rejected. */
export interface Sender {
  send(message: HttpRequest, timeoutMs: number, signal?: AbortSignal): Promise<AttemptResult>;
}

export interface HttpSenderOptions {
  /** Connections kept per origin. */
  readonly connections: number;
  /** Longest response body read; the rest is discarded. */
  readonly maxResponseBytes: number;
  /** PEM CA certificates trusted for https destinations, in addition to the public ones. */
  readonly trustedCa?: string | undefined;
}

export class HttpSender implements Sender {
  private readonly agent: Agent;
  private readonly maxResponseBytes: number;
  private readonly targets = new Map<string, Target>();
  private readonly aborts = new AbortRegistry();
  private readonly deadlines = new Deadlines();

  constructor(options: HttpSenderOptions) {
    this.agent = new Agent({
      connections: options.connections,
      // Keep idle connections long enough to bridge backoff waits, short enough to notice pods going away.
      keepAliveTimeout: 10_000,
      keepAliveMaxTimeout: 60_000,
      // Our own timer bounds each attempt as a whole (headers and body); undici's would only bound parts.
      headersTimeout: 0,
      bodyTimeout: 0,
      // Given a CA, trust it as well as the public roots (setting `ca` alone would replace them).
      ...(options.trustedCa === undefined ? {} : { connect: { ca: [...rootCertificates, options.trustedCa] } }),
    });
    this.maxResponseBytes = options.maxResponseBytes;
  }

  /**
   * Sends one POST; resolves with what happened, never rejects. Through undici's dispatch
   * interface rather than `request`: no response stream, abort controller or promise per
   * attempt beyond this one, which was a fifth of the dispatcher's CPU per event (issue 17).
   */
  send(message: HttpRequest, timeoutMs: number, signal?: AbortSignal): Promise<AttemptResult> {
    if (signal?.aborted) return Promise.resolve(ABORTED);
    let target: Target;
    try {
      target = this.targetOf(message.url);
    } catch (error) {
      return Promise.resolve({ kind: 'network', message: describeNetworkError(error) });
    }
    return new Promise<AttemptResult>((resolve) => {
      const success = message.keepResponseBytes?.success;
      const failure = message.keepResponseBytes?.failure;
      const attempt = new Attempt(resolve, this.maxResponseBytes, success, failure, this.deadlines, signal === undefined ? undefined : this.aborts, signal);
      attempt.start(timeoutMs);
      this.agent.dispatch({
        origin: target.origin,
        path: target.path,
        method: 'POST',
        headers: message.headers,
        body: message.body ?? null,
      }, attempt);
    });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** Closes every connection at once, abandoning requests in progress. */
  async destroy(): Promise<void> {
    await this.agent.destroy();
  }

  /** The URL's origin and path, parsed once per destination (there are few). */
  private targetOf(url: string): Target {
    let target = this.targets.get(url);
    if (target === undefined) {
      const parsed = new URL(url);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`unsupported protocol ${parsed.protocol} in ${url}`);
      target = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
      if (this.targets.size >= TARGETS_MAX) this.targets.clear();
      this.targets.set(url, target);
    }
    return target;
  }
}

interface Target {
  readonly origin: string;
  readonly path: string;
}

/** Destinations remembered; emptied when full, so arbitrary reply URLs cannot grow it. */
const TARGETS_MAX = 1024;

const ABORTED: AttemptResult = { kind: 'aborted' };
const TIMEOUT: AttemptResult = { kind: 'timeout' };

/**
 * The attempts waiting on each caller's signal, with one listener per signal: an egress's signal
 * is shared by all its attempts, and adding and removing an event listener per attempt cost more
 * than the rest of the bookkeeping.
 */
class AbortRegistry {
  private readonly waiting = new WeakMap<AbortSignal, Set<Attempt>>();

  /** Returns the signal's set of attempts: the attempt leaves it by itself, with no lookup. */
  add(signal: AbortSignal, attempt: Attempt): Set<Attempt> {
    let attempts = this.waiting.get(signal);
    if (attempts === undefined) {
      const set = new Set<Attempt>();
      attempts = set;
      this.waiting.set(signal, set);
      signal.addEventListener('abort', () => {
        for (const waiting of set) waiting.cancel();
        set.clear();
      }, { once: true });
    }
    attempts.add(attempt);
    return attempts;
  }
}

/**
 * One attempt as an undici dispatch handler: keeps the first `keep` bytes of the body (a cut
 * chunk copied, so no larger socket chunk stays referenced) and reads past them without keeping
 * anything, up to `limit`; a longer body is cut off by closing the connection rather than drained.
 * Resolves exactly once: with the response, a timeout (our timer, headers and body together),
 * an abort (the caller's signal) or the network error.
 */
class Attempt implements Dispatcher.DispatchHandler, Expiring {
  private abortRequest: ((reason: Error) => void) | undefined;
  private settled = false;
  /** The attempts waiting on the same signal, this one among them until it settles. */
  private abortGroup: Set<Attempt> | undefined;
  deadlineAt = 0;
  deadlinePrev: Expiring | undefined;
  deadlineNext: Expiring | undefined;
  deadlineList: DeadlineList | undefined;
  private status = 0;
  private headers: Record<string, string> | undefined;
  /** A success's raw headers, flattened only if read (see onHeaders). */
  private rawHeaders: Buffer[] | undefined;
  private keep = 0;
  private chunks: Buffer[] | undefined;
  private kept = 0;
  private seen = 0;

  constructor(
    private readonly resolve: (result: AttemptResult) => void,
    private readonly limit: number,
    private readonly keepSuccess: number | undefined,
    private readonly keepFailure: number | undefined,
    private readonly deadlines: Deadlines,
    private readonly aborts: AbortRegistry | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {}

  start(timeoutMs: number): void {
    this.deadlines.add(this, timeoutMs);
    if (this.signal !== undefined) this.abortGroup = this.aborts!.add(this.signal, this);
  }

  /** Our timeout, for headers and body together. */
  expire(): void {
    this.finish(TIMEOUT, 'timed out');
  }

  /** The caller's signal fired. */
  cancel(): void {
    this.finish(ABORTED, 'aborted');
  }

  onConnect(abort: (reason: Error) => void): void {
    // Timed out or aborted while queued for a connection: the request goes no further.
    if (this.settled) abort(new Error('attempt ended'));
    else this.abortRequest = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    this.status = statusCode;
    const success = statusCode >= 200 && statusCode < 300;
    // A success's headers are read at once or never (a 202 is never a reply): turning every one
    // into strings was a tenth of the delivery's own CPU. A failure's are kept while the event
    // waits, so they are strings now and no view of the socket's buffer stays held.
    if (success) this.rawHeaders = rawHeaders;
    else this.headers = flattenHeaders(rawHeaders);
    const wanted = success ? this.keepSuccess : this.keepFailure;
    this.keep = Math.min(wanted ?? this.limit, this.limit);
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.seen += chunk.length;
    if (this.kept < this.keep) {
      const part = chunk.length <= this.keep - this.kept ? chunk : chunk.subarray(0, this.keep - this.kept);
      (this.chunks ??= []).push(part);
      this.kept += part.length;
    }
    if (this.seen > this.limit) {
      // Too long: what was kept is the answer, and the connection is closed rather than drained.
      this.finish(this.response(), 'response too large');
      return false;
    }
    return true;
  }

  onComplete(): void {
    this.finish(this.response(), undefined);
  }

  onError(error: Error): void {
    this.finish({ kind: 'network', message: describeNetworkError(error) }, undefined);
  }

  private response(): AttemptResult {
    const truncated = this.seen > this.kept;
    const chunks = this.chunks;
    let body: Buffer;
    // A chunk that owns its memory is the reply itself; anything else (a cut chunk, several, or a
    // view of the socket's larger read buffer) is copied into memory of its own (not Buffer's
    // shared pool, whose slab may be large) so that neither the socket buffer nor a slab stays held.
    if (chunks === undefined) body = EMPTY;
    else if (chunks.length === 1 && !truncated && chunks[0]!.byteLength === chunks[0]!.buffer.byteLength) body = chunks[0]!;
    else {
      body = Buffer.allocUnsafeSlow(this.kept);
      let at = 0;
      for (const chunk of chunks) at += chunk.copy(body, at);
    }
    if (this.rawHeaders !== undefined) return new SuccessResponse(this.status, this.rawHeaders, body, truncated);
    return { kind: 'response', status: this.status, headers: this.headers ?? {}, body, truncated };
  }

  /** Settles once; `abortReason` set: the request is abandoned (its connection closed if it has one). */
  private finish(result: AttemptResult, abortReason: string | undefined): void {
    if (this.settled) return;
    this.settled = true;
    this.deadlines.remove(this);
    this.abortGroup?.delete(this);
    if (abortReason !== undefined) this.abortRequest?.(new Error(abortReason));
    this.resolve(result);
  }
}

const EMPTY = Buffer.alloc(0);

/** A 2xx response whose headers become strings when first read. */
class SuccessResponse {
  readonly kind = 'response' as const;
  private flat: Record<string, string> | undefined;

  constructor(
    readonly status: number,
    private raw: readonly Buffer[] | undefined,
    readonly body: Buffer,
    readonly truncated: boolean,
  ) {}

  get headers(): Readonly<Record<string, string>> {
    if (this.flat === undefined) {
      this.flat = flattenHeaders(this.raw ?? []);
      this.raw = undefined;
    }
    return this.flat;
  }

  has(name: string): boolean {
    if (this.flat !== undefined) return this.flat[name] !== undefined;
    const raw = this.raw ?? [];
    for (let i = 0; i + 1 < raw.length; i += 2) if (isNamed(raw[i]!, name)) return true;
    return false;
  }
}

/**
 * `raw` (a header name as it came) is `lower` (lower-case ASCII) in any case, as flattenHeaders's
 * latin1 toLowerCase would find it: only A-Z fold, as no other latin1 character lowers to ASCII.
 */
export function isNamed(raw: Buffer, lower: string): boolean {
  if (raw.length !== lower.length) return false;
  for (let i = 0; i < raw.length; i++) {
    const want = lower.charCodeAt(i);
    const got = raw[i]!;
    if (got !== want && !(want >= 0x61 && want <= 0x7a && got === want - 0x20)) return false;
  }
  return true;
}

/** Lower-case names (null prototype: the names are the wire's); repeated headers joined with ", ". */
function flattenHeaders(raw: readonly Buffer[]): Record<string, string> {
  const flat = Object.create(null) as Record<string, string>;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    const before = flat[name];
    flat[name] = before === undefined ? value : `${before}, ${value}`;
  }
  return flat;
}

function describeNetworkError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${typeof code === 'string' ? `${code} ` : ''}${error.message}${cause}`;
  }
  return String(error);
}
