import { fastify, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import { BrokerError, isBrokerError, toHttpBody, toLogFields } from './errors.js';
import type { Logger } from './logger.js';

/**
 * The shared fastify bootstrap: one place where errors become HTTP responses (through
 * `core/errors.ts`), bodies are taken as raw bytes whatever their content type (the CloudEvents
 * codec reads them), health endpoints look the same in every component, and "port taken"
 * becomes a sentence instead of a stack.
 */

export interface HttpServerOptions {
  /** Largest request body accepted, in bytes; larger ones get 413 before being read. */
  readonly bodyLimitBytes: number;
  readonly logger: Logger;
  /** Serve HTTPS with this certificate and key (the server's `setSecureContext` swaps them later). */
  readonly https?: { readonly cert: Buffer; readonly key: Buffer };
}

export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  const settings = {
    logger: false, // our pino logger logs what matters; per-request logging costs throughput
    bodyLimit: options.bodyLimitBytes,
    exposeHeadRoutes: false,
    return503OnClosing: true,
  } as const;
  // fastify types an HTTPS instance apart; routes and hooks are the same, so callers see one type.
  const app = options.https === undefined
    ? fastify(settings)
    : (fastify({ ...settings, https: { cert: options.https.cert, key: options.https.key } }) as unknown as FastifyInstance);
  // Every body arrives as a Buffer, for every content type and for none (fastify hands a body
  // without Content-Type to the '' parser, which the catch-all covers).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.setErrorHandler((error: FastifyError | BrokerError, _request, reply) => {
    const brokerError = fromFastifyError(error, options.bodyLimitBytes);
    if (brokerError.status >= 500) options.logger.error(toLogFields(brokerError), brokerError.message);
    return sendError(reply, brokerError);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new BrokerError('NOT_FOUND', `no resource is served at ${request.method} ${request.url}`, { details: { path: pathOf(request.url) } })),
  );
  return app;
}

/** Sends a BrokerError as `{ statusCode, code, error, message, details? }` with its status. */
export function sendError(reply: FastifyReply, error: BrokerError, headers?: Readonly<Record<string, string>>): FastifyReply {
  reply.code(error.status);
  if (headers !== undefined) reply.headers(headers);
  return reply.type('application/json; charset=utf-8').send(toHttpBody(error));
}

export interface HealthChecks {
  /** Why the server is not ready, or undefined when it is. */
  readonly notReadyReason: () => Promise<string | undefined>;
}

/** `GET /healthz` answers while the process runs; `GET /readyz` answers 200 only when ready. */
export function registerHealth(app: FastifyInstance, checks: HealthChecks): void {
  app.get('/healthz', (_request, reply) => reply.code(200).send({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const reason = await checks.notReadyReason();
    if (reason === undefined) return reply.code(200).send({ status: 'ready' });
    return reply.code(503).send({ status: 'not ready', reason });
  });
}

export interface Listening {
  readonly url: string;
  readonly port: number;
}

/** Listens on host:port (0 picks a free port); a port already taken is a CONFIG_INVALID error. */
export async function listen(app: FastifyInstance, host: string, port: number, scheme: 'http' | 'https' = 'http'): Promise<Listening> {
  try {
    await app.listen({ host, port });
  } catch (error) {
    // The system's error code travels as data (details.errno), so callers decide on it, not on the message.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new BrokerError('CONFIG_INVALID', `cannot listen on ${host}:${port}: port ${port} is already in use`, { details: { host, port, errno: code }, cause: error });
    }
    if (code === 'EADDRNOTAVAIL' || code === 'EACCES' || code === 'ENOTFOUND') {
      throw new BrokerError('CONFIG_INVALID', `cannot listen on ${host}:${port} (${code})`, { details: { host, port, errno: code }, cause: error });
    }
    throw error;
  }
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return { url: `${scheme}://${urlHost}:${actualPort}`, port: actualPort };
}

/** The path of a request URL, without its query string. */
export function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

function fromFastifyError(error: FastifyError | BrokerError, bodyLimitBytes: number): BrokerError {
  if (isBrokerError(error)) return error;
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new BrokerError('BODY_TOO_LARGE', `the request body is larger than the limit of ${bodyLimitBytes} bytes`, { details: { limitBytes: bodyLimitBytes } });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      // In binary mode Content-Type is the event's datacontenttype (CloudEvents HTTP binding §3.1.1).
      return new BrokerError('EVENT_INVALID', 'the Content-Type header is not a valid media type (RFC 2046)', {
        details: { issues: [{ attribute: 'datacontenttype', rule: 'media-type', message: 'the Content-Type header is not a valid media type (RFC 2046)' }] },
      });
    default:
      break;
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) return new BrokerError('EVENT_INVALID', error.message, { details: { reason: error.code } });
  return new BrokerError('INTERNAL', error.message, { cause: error });
}
