import { createServer as createHttpServerOfNode, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsServerOptions } from 'node:https';
import { fastify, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { ByteBudget } from './byte-budget.js';
import { BrokerError, isBrokerError, toHttpBody, toLogFields } from './errors.js';
import { BodyReader, bodyTooLarge } from './http-body.js';
import type { Logger } from './logger.js';

/**
 * The shared fastify bootstrap: one place where errors become HTTP responses (through
 * `core/errors.ts`), bodies are taken as raw bytes whatever their content type (the CloudEvents
 * codec reads them), query strings are parsed the same way everywhere, health endpoints look the
 * same in every component, and "port taken" becomes a sentence instead of a stack.
 */

export interface HttpServerOptions {
  /** Largest request body accepted, in bytes; larger ones get 413 before being read. */
  readonly bodyLimitBytes: number;
  readonly logger: Logger;
  /** Bounds for a server that faces many untrusted clients (the ingress). */
  readonly limits?: HttpLimits;
  /** Serve HTTPS with this certificate and key (the server's `setSecureContext` swaps them later). */
  readonly https?: { readonly cert: Buffer; readonly key: Buffer };
  /** Hears each error the error handler answers (a body too large, unreadable, ...), e.g. to count it. */
  readonly onError?: ((request: FastifyRequest, error: BrokerError) => void) | undefined;
  /**
   * Requests to serve straight from Node's request handler, before fastify builds its request and
   * reply (a component's hot path); built once, with the server's body reader. Everything it does
   * not take goes to fastify's routes.
   */
  readonly takeRequests?: ((server: ServerParts) => RequestTaker) | undefined;
}

/** Takes a request fastify is not to see (and answers it), or returns false to leave it to fastify. */
export type RequestTaker = (request: IncomingMessage, response: ServerResponse) => boolean;

/** What a request taker shares with the fastify side of its server, so both answer alike. */
export interface ServerParts {
  /** The server's body reader: the same body limit and byte budget as fastify's parser has. */
  readonly bodies: BodyReader;
  /** True once the server is closing: fastify answers 503 and closes the connection, so leave it such requests. */
  closing(): boolean;
  /**
   * What the error handler does with an error, for a request fastify never saw: the error as a
   * BrokerError (logged when it is the server's fault), sent, and returned.
   */
  fail(response: ServerResponse, error: unknown): BrokerError;
}

/** See broker-ingress/config.ts for what each bound is for and why its default is what it is. */
export interface HttpLimits {
  /** Bytes held for requests at once, over all of them (bodies read and waiting); past it 503. */
  readonly maxBufferedBytes: number;
  /** The whole request, headers and body, must arrive within this (else 408 and the connection closes). */
  readonly requestTimeoutMs: number;
  /** The request's headers must arrive within this. */
  readonly headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  readonly keepAliveTimeoutMs: number;
  /** Connections open at once; past it new ones are closed as they are accepted. */
  readonly maxConnections: number;
  /** Retry-After on a 503 the bounds give. */
  readonly retryAfterSeconds: number;
}

export function createHttpServer(options: HttpServerOptions): FastifyInstance {
  const limits = options.limits;
  const settings = {
    logger: false, // our pino logger logs what matters; per-request logging costs throughput
    bodyLimit: options.bodyLimitBytes,
    exposeHeadRoutes: false,
    return503OnClosing: true,
    routerOptions: { querystringParser: parseQueryString },
    ...(limits === undefined ? {} : { requestTimeout: limits.requestTimeoutMs, keepAliveTimeout: limits.keepAliveTimeoutMs }),
  };
  const nodeOptions = nodeServerOptions(limits, options.https);
  const unavailableHeaders = limits === undefined ? undefined : { 'retry-after': String(limits.retryAfterSeconds) };
  // Every body arrives as a Buffer, for every content type and for none (fastify hands a body
  // without Content-Type to the '' parser, which the catch-all covers).
  const budget = limits === undefined ? undefined : new ByteBudget({ limitBytes: limits.maxBufferedBytes });
  const bodies = new BodyReader(options.bodyLimitBytes, budget);
  const toBrokerError = (error: FastifyError | BrokerError): BrokerError => {
    const brokerError = fromFastifyError(error, options.bodyLimitBytes);
    if (brokerError.status >= 500 && brokerError.code !== 'OVERLOADED') options.logger.error(toLogFields(brokerError), brokerError.message);
    return brokerError;
  };
  let closing = false;
  const taker = options.takeRequests?.({
    bodies,
    closing: () => closing,
    fail: (response, error) => {
      // An Error is mapped as the error handler maps it; anything else thrown is an internal error.
      const brokerError = toBrokerError(error instanceof Error ? (error as FastifyError | BrokerError) : asInternal(error));
      sendErrorRaw(response, brokerError, brokerError.code === 'OVERLOADED' ? unavailableHeaders : undefined);
      return brokerError;
    },
  });
  const withServer = taker === undefined ? settings : { ...settings, serverFactory: serverWith(taker, nodeOptions, options.https !== undefined) };
  // fastify types an HTTPS instance apart; routes and hooks are the same, so callers see one type.
  const app = fastify({ ...withServer, ...(options.https === undefined ? { http: nodeOptions } : { https: nodeOptions }) } as unknown as typeof settings);
  if (limits !== undefined) app.server.maxConnections = limits.maxConnections;
  // fastify marks itself closing (and answers 503) right before the preClose hooks run, in the same turn.
  if (taker !== undefined) {
    app.addHook('preClose', (done) => {
      closing = true;
      done();
    });
  }
  bodies.install(app);

  app.addHook('onRequest', (request, reply, done) => {
    const repeated = repeatedQueryKey(request.query);
    if (repeated !== undefined) {
      sendError(reply, new BrokerError('INVALID_REQUEST', `query parameter '${repeated}' is given more than once`, { details: { parameter: repeated } }));
      return;
    }
    bodies.track(request, reply);
    done();
  });

  const onError = options.onError;
  app.setErrorHandler((error: FastifyError | BrokerError, request, reply) => {
    const brokerError = toBrokerError(error);
    onError?.(request, brokerError);
    return sendError(reply, brokerError, brokerError.code === 'OVERLOADED' ? unavailableHeaders : undefined);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new BrokerError('NOT_FOUND', `no resource is served at ${request.method} ${request.url}`, { details: { path: pathOf(request.url) } })),
  );
  return app;
}

const REPEATED = Symbol('a query parameter given more than once');

/**
 * Query strings as a null-prototype object of strings: a parameter name from the wire never meets
 * Object.prototype, and a handler never gets an array. A name given twice is remembered (under a
 * symbol) and refused with 400 before any handler runs, rather than letting one value win.
 */
export function parseQueryString(text: string): Record<string, string> {
  const query = Object.create(null) as Record<string, string>;
  // The router asks for every request; most (every event POST) have no query string.
  if (text.length === 0) return query;
  for (const [key, value] of new URLSearchParams(text)) {
    if (Object.hasOwn(query, key)) {
      if (!Object.hasOwn(query, REPEATED)) Object.defineProperty(query, REPEATED, { value: key });
      continue;
    }
    query[key] = value;
  }
  return query;
}

/** The first name given twice in a query parsed by `parseQueryString`, if any. */
export function repeatedQueryKey(query: unknown): string | undefined {
  if (typeof query !== 'object' || query === null) return undefined;
  const repeated = (query as { [REPEATED]?: string })[REPEATED];
  return typeof repeated === 'string' ? repeated : undefined;
}

/** Sends a BrokerError as `{ statusCode, code, error, message, details? }` with its status. */
export function sendError(reply: FastifyReply, error: BrokerError, headers?: Readonly<Record<string, string>>): FastifyReply {
  reply.code(error.status);
  if (headers !== undefined) reply.headers(headers);
  return reply.type('application/json; charset=utf-8').send(toHttpBody(error));
}

/** The bytes `sendError` has fastify send, written straight to a Node response (the header order too). */
export function sendErrorRaw(response: ServerResponse, error: BrokerError, headers?: Readonly<Record<string, string>>): void {
  const body = JSON.stringify(toHttpBody(error));
  if (headers !== undefined) {
    for (const name in headers) response.setHeader(name, headers[name]!);
  }
  response.setHeader('content-type', 'application/json; charset=utf-8');
  response.setHeader('content-length', Buffer.byteLength(body));
  response.writeHead(error.status);
  response.end(body);
}

/**
 * The options Node's server is created with, HTTP or HTTPS alike. fastify hands its `http` options
 * to an HTTP server only and builds an HTTPS one from the `https` options alone, so the bounds go
 * into whichever is used: an HTTPS server without them keeps Node's defaults (headers for 60 s,
 * checked every 30 s), and a client that sends its headers slowly holds the connection that long.
 */
function nodeServerOptions(limits: HttpLimits | undefined, https: HttpServerOptions['https']): HttpsServerOptions {
  const bounds: ServerOptions = limits === undefined ? {} : {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    // Node checks the two timeouts on this interval (30 s by default), which would let a
    // slow client overstay a short timeout by that much.
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 5))),
  };
  if (https === undefined) return bounds;
  return {
    ...bounds,
    // The headers timeout starts once the handshake is done; a client that never finishes the
    // handshake is held by this one instead (120 s by default).
    ...(limits === undefined ? {} : { handshakeTimeout: limits.headersTimeoutMs }),
    cert: https.cert,
    key: https.key,
  };
}

/**
 * fastify's `serverFactory`: the server fastify would create (lib/server.js: the same options,
 * timeouts and per-socket limit), whose request handler offers each request to `taker` first.
 */
function serverWith(taker: RequestTaker, nodeOptions: HttpsServerOptions, secure: boolean): NonNullable<FastifyServerOptions['serverFactory']> {
  return (handler, opts) => {
    const serve = (request: IncomingMessage, response: ServerResponse): void => {
      if (!taker(request, response)) handler(request, response);
    };
    const settings = opts as FastifyServerOptions;
    const server: Server = secure ? createHttpsServer(nodeOptions, serve) : createHttpServerOfNode(nodeOptions, serve);
    if (settings.keepAliveTimeout !== undefined) server.keepAliveTimeout = settings.keepAliveTimeout;
    if (settings.requestTimeout !== undefined) server.requestTimeout = settings.requestTimeout;
    server.setTimeout(settings.connectionTimeout ?? 0);
    if (settings.maxRequestsPerSocket !== undefined && settings.maxRequestsPerSocket !== null && settings.maxRequestsPerSocket > 0) server.maxRequestsPerSocket = settings.maxRequestsPerSocket;
    return server;
  };
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

function asInternal(error: unknown): BrokerError {
  return new BrokerError('INTERNAL', error instanceof Error ? error.message : String(error), { cause: error });
}

function fromFastifyError(error: FastifyError | BrokerError, bodyLimitBytes: number): BrokerError {
  if (isBrokerError(error)) return error;
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return bodyTooLarge(bodyLimitBytes);
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
