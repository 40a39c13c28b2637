import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ByteBudget } from './byte-budget.js';
import { BrokerError } from './errors.js';

/**
 * Reads request bodies as raw bytes, inside two bounds: the per-request body limit, and (when
 * given) a byte budget shared by all requests. Bytes are reserved before they are read: a declared
 * Content-Length up front, so a body that does not fit is refused before its first byte is
 * buffered; a chunked body chunk by chunk as it streams in. A request gives its bytes back when
 * its response closes (sent, or the connection gone), so the budget also covers the time an
 * event waits for the log.
 *
 * Refusals end the connection (fastify adds `Connection: close` to a parser error), so a slow
 * client is not drained at our cost.
 *
 * Per request this allocates one state object and no closures: the stream listeners are shared
 * functions that find their state on the stream (every request paid for five closures before,
 * test/bench/ingress.bench.ts). A body that arrives in one chunk, as small events do, is that
 * chunk (Node's HTTP parser gives each chunk a buffer of its own), not a copy.
 */

/** What a request holds of the budget; released when its response closes. */
export interface Holding {
  bytes: number;
  open: boolean;
  readonly budget: ByteBudget;
}

export type BodyDone = (error: Error | null, body?: Buffer) => void;

/** Where a request keeps its holding (a request decorator, so every request has the same shape). */
/** Matches every Content-Type, anchored (fastify warns of patterns that are not). */
const ANY_CONTENT_TYPE = /^/;

const HOLDING = 'kafkaBrokerBodyHolding';
type WithHolding = { [HOLDING]: Holding | null };
/** The holding on the response whose 'close' releases it. */
const RELEASE = Symbol('kafka-broker body holding');
type ReleasingResponse = ServerResponse & { [RELEASE]?: Holding };
/** The read in progress on the request stream its listeners are called on. */
const READING = Symbol('kafka-broker body read');
type Payload = NodeJS.ReadableStream & { [READING]?: BodyRead };

export class BodyReader {
  constructor(
    private readonly bodyLimitBytes: number,
    private readonly budget: ByteBudget | undefined,
  ) {}

  /** Makes this the server's only body parser, for every content type. */
  install(app: FastifyInstance): void {
    app.decorateRequest(HOLDING, null);
    app.removeAllContentTypeParsers();
    // '*' serves requests without a Content-Type. Fastify never remembers which parser a type got
    // when it is the catch-all, and parses the header anew on every request (2 µs of the ingress's
    // CPU per event, issue 17); a parser for a pattern that matches every type it remembers.
    app.addContentTypeParser('*', this.read);
    app.addContentTypeParser(ANY_CONTENT_TYPE, this.read);
  }

  /** For an onRequest hook: ties a request's reservation to the end of its response. */
  track(request: FastifyRequest, reply: FastifyReply): void {
    const holding = this.holdingFor(request.headers, reply.raw);
    if (holding !== null) (request as unknown as WithHolding)[HOLDING] = holding;
  }

  /**
   * A request's share of the budget, released when `response` closes; null without a budget or
   * when the request has no body. Taken when the request arrives, so a response that closes
   * before the body is read (the client gone) makes the read refuse.
   */
  holdingFor(headers: IncomingHttpHeaders, response: ServerResponse): Holding | null {
    const budget = this.budget;
    if (budget === undefined || !mayHaveBody(headers)) return null;
    const holding: Holding = { bytes: 0, open: true, budget };
    (response as ReleasingResponse)[RELEASE] = holding;
    // A response closes once: `on` with a shared listener, rather than `once` and a closure.
    response.on('close', release);
    return holding;
  }

  /** The content-type parser (fastify hands it the raw request stream). */
  readonly read = (request: FastifyRequest, payload: NodeJS.ReadableStream, done: BodyDone): void => {
    this.readBody(request.headers, this.budget === undefined ? null : (request as unknown as WithHolding)[HOLDING], payload, done);
  };

  /**
   * Reads a body within the bounds and calls `done` once, with the body or the error that says
   * why not (the caller closes the connection on an error: the rest of the body is not read).
   */
  readBody(headers: IncomingHttpHeaders, holding: Holding | null, payload: NodeJS.ReadableStream, done: BodyDone): void {
    const limit = this.bodyLimitBytes;
    const header = headers['content-length'];
    // Node's HTTP parser has already refused a Content-Length that is not a number.
    const declared = header === undefined ? undefined : Number(header);
    if (declared !== undefined && declared > limit) {
      done(bodyTooLarge(limit));
      return;
    }
    const read = new BodyRead(payload as Payload, done, limit, declared, holding);
    if (declared !== undefined) {
      const refused = read.reserve(declared);
      if (refused !== undefined) {
        done(refused);
        return;
      }
    }
    (payload as Payload)[READING] = read;
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
    payload.resume();
  }
}

/** One body being read. With a declared length the bytes were reserved up front; else chunk by chunk. */
class BodyRead {
  received = 0;
  first: Buffer | undefined = undefined;
  more: Buffer[] | undefined = undefined;

  constructor(
    readonly payload: Payload,
    readonly done: BodyDone,
    readonly limit: number,
    readonly declared: number | undefined,
    readonly holding: Holding | null,
  ) {}

  reserve(more: number): BrokerError | undefined {
    const holding = this.holding;
    if (holding === null) return undefined;
    if (!holding.open) return new BrokerError('INVALID_REQUEST', 'the request ended before its body was read');
    const verdict = holding.budget.reserve(holding.bytes, more, this.declared);
    if (verdict === 'ok') {
      holding.bytes += more;
      return undefined;
    }
    return verdict === 'busy' ? overloaded(holding.budget) : beyondBudget(holding.budget, holding.bytes + more);
  }

  chunk(chunk: Buffer): void {
    const received = (this.received += chunk.length);
    if (received > this.limit) return this.finish(bodyTooLarge(this.limit));
    if (this.declared !== undefined) {
      if (received > this.declared) return this.finish(lengthMismatch());
    } else {
      const refused = this.reserve(chunk.length);
      if (refused !== undefined) return this.finish(refused);
    }
    if (this.first === undefined) this.first = chunk;
    else (this.more ??= [this.first]).push(chunk);
  }

  end(): void {
    if (this.declared !== undefined && this.received !== this.declared) return this.finish(lengthMismatch());
    const body = this.more !== undefined ? Buffer.concat(this.more, this.received) : this.first ?? Buffer.alloc(0);
    this.finish(null, body);
  }

  finish(error: Error | null, body?: Buffer): void {
    const payload = this.payload;
    payload.removeListener('data', onData);
    payload.removeListener('end', onEnd);
    payload.removeListener('error', onError);
    payload[READING] = undefined;
    this.first = undefined;
    this.more = undefined;
    if (error === null) this.done(null, body);
    else this.done(error);
  }
}

function onData(this: Payload, data: Buffer | string): void {
  this[READING]?.chunk(typeof data === 'string' ? Buffer.from(data) : data);
}

function onEnd(this: Payload): void {
  this[READING]?.end();
}

function onError(this: Payload): void {
  this[READING]?.finish(new BrokerError('INVALID_REQUEST', 'the request body could not be read (the connection ended or timed out)'));
}

function release(this: ReleasingResponse): void {
  const holding = this[RELEASE];
  if (holding === undefined) return;
  this[RELEASE] = undefined;
  holding.open = false;
  holding.budget.release(holding.bytes);
  holding.bytes = 0;
}

/** Whether a request declares a body: chunked, or a Content-Length other than 0. */
export function mayHaveBody(headers: IncomingHttpHeaders): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}
export function bodyTooLarge(limitBytes: number): BrokerError {
  return new BrokerError('BODY_TOO_LARGE', `the request body is larger than the limit of ${limitBytes} bytes`, { details: { limitBytes } });
}

function overloaded(budget: ByteBudget): BrokerError {
  return new BrokerError('OVERLOADED', `the server holds as many request bytes as it may (${budget.limitBytes}); try again shortly`, {
    details: { maxBufferedBytes: budget.limitBytes },
  });
}

function beyondBudget(budget: ByteBudget, bytes: number): BrokerError {
  return new BrokerError('BODY_TOO_LARGE', `the request body (${bytes} bytes or more) is larger than the server can ever hold at once (${budget.largeCeilingBytes} bytes for large bodies)`, {
    details: { limitBytes: budget.largeCeilingBytes, maxBufferedBytes: budget.limitBytes },
  });
}

function lengthMismatch(): BrokerError {
  return new BrokerError('INVALID_REQUEST', 'the request body does not match its Content-Length');
}
