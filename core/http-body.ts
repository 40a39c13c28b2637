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
 */

interface Holding {
  bytes: number;
  open: boolean;
}

type Done = (error: Error | null, body?: Buffer) => void;

/** Where a request keeps its holding (a request decorator, so every request has the same shape). */
const HOLDING = 'kafkaBrokerBodyHolding';
type WithHolding = { [HOLDING]: Holding | null };

export class BodyReader {
  constructor(
    private readonly bodyLimitBytes: number,
    private readonly budget: ByteBudget | undefined,
  ) {}

  /** Makes this the server's only body parser, for every content type. */
  install(app: FastifyInstance): void {
    app.decorateRequest(HOLDING, null);
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', this.read);
  }

  /** For an onRequest hook: ties a request's reservation to the end of its response. */
  track(request: FastifyRequest, reply: FastifyReply): void {
    const budget = this.budget;
    if (budget === undefined || !mayHaveBody(request)) return;
    const holding: Holding = { bytes: 0, open: true };
    (request as unknown as WithHolding)[HOLDING] = holding;
    reply.raw.once('close', () => {
      holding.open = false;
      budget.release(holding.bytes);
      holding.bytes = 0;
    });
  }

  /** The content-type parser (fastify hands it the raw request stream). */
  readonly read = (request: FastifyRequest, payload: NodeJS.ReadableStream, done: Done): void => {
    const limit = this.bodyLimitBytes;
    const header = request.headers['content-length'];
    // Node's HTTP parser has already refused a Content-Length that is not a number.
    const declared = header === undefined ? undefined : Number(header);
    if (declared !== undefined && declared > limit) {
      done(bodyTooLarge(limit));
      return;
    }
    const holding = (request as unknown as WithHolding)[HOLDING];
    const reserve = (more: number): BrokerError | undefined => {
      if (this.budget === undefined || holding === null) return undefined;
      if (!holding.open) return new BrokerError('INVALID_REQUEST', 'the request ended before its body was read');
      const verdict = this.budget.reserve(holding.bytes, more, declared);
      if (verdict === 'ok') {
        holding.bytes += more;
        return undefined;
      }
      return verdict === 'busy' ? overloaded(this.budget) : beyondBudget(this.budget, holding.bytes + more);
    };

    if (declared !== undefined) {
      const refused = reserve(declared);
      if (refused !== undefined) {
        done(refused);
        return;
      }
    }
    // With a declared length the body is copied once into a buffer of that size; chunked bodies
    // are collected and joined at the end.
    const whole = declared !== undefined ? Buffer.allocUnsafe(declared) : undefined;
    const chunks: Buffer[] = [];
    let received = 0;

    const finish = (error: Error | null): void => {
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      payload.removeListener('error', onError);
      chunks.length = 0;
      done(error);
    };
    const onData = (data: Buffer | string): void => {
      const chunk = typeof data === 'string' ? Buffer.from(data) : data;
      received += chunk.length;
      if (received > limit) return finish(bodyTooLarge(limit));
      if (whole !== undefined) {
        if (received > whole.length) return finish(lengthMismatch());
        chunk.copy(whole, received - chunk.length);
        return;
      }
      const refused = reserve(chunk.length);
      if (refused !== undefined) return finish(refused);
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      payload.removeListener('error', onError);
      if (whole !== undefined) {
        if (received !== whole.length) done(lengthMismatch());
        else done(null, whole);
        return;
      }
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received);
      chunks.length = 0;
      done(null, body);
    };
    const onError = (): void => finish(new BrokerError('INVALID_REQUEST', 'the request body could not be read (the connection ended or timed out)'));

    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
    payload.resume();
  };
}

function mayHaveBody(request: FastifyRequest): boolean {
  const headers = request.headers;
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
