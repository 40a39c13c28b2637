import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CloudEvent } from '../core/cloudevents/event.js';
import { BrokerError, asBrokerError } from '../core/errors.js';
import { pathOf, sendError } from '../core/http-server.js';
import type { Logger } from '../core/logger.js';
import { traceHeadersOfHttp } from '../core/trace-context.js';
import { spanStartTime, type Tracing } from '../core/tracing.js';
import type { Appender } from './append.js';
import type { IngressConfig } from './config.js';
import type { IngressEntry, IngressTable, SenderPolicy } from './ingress-table.js';
import type { IngressMetrics } from './metrics.js';
import { receive } from './receive.js';
import { recordRefused, startIngressSpans, type IngressSpans } from './tracing.js';
import { filtersRefusing, rulesAllowing, type TokenVerifier } from './sender-auth.js';

/**
 * The ingress's HTTP surface. Every resource in the contract with an ingress path is served by
 * the same three routes; the path is looked up in the ingress table (one Map.get).
 *
 *   POST <path>     202  the events are durable in the resource's topic
 *                   401  the resource has an OIDC audience and the request no valid token for it
 *                   403  the token is valid but no EventPolicy applying to the resource allows its subject,
 *                        or those that do have filters (spec.filters) that refuse an event of the request
 *                   400  not a CloudEvent, an invalid event, or its hop limit is spent
 *                   404  no resource at that path (checked before the body is read)
 *                   503  no contract loaded yet (Retry-After): a restarted ingress does not know
 *                        its brokers yet, and 404 would tell a producer that the broker is gone
 *                   408  the request did not arrive within requestTimeoutMs (headersTimeoutMs)
 *                   413  the body is larger than bodyLimitBytes, a batch has more events than
 *                        maxInFlightEvents, or an event is larger than a record may be
 *                   503  the log cannot take the write, or the ingress holds maxBufferedBytes
 *                        already (Retry-After); nothing was acknowledged
 *   OPTIONS <path>  200  CloudEvents webhook abuse-protection handshake
 *   other methods   405  with Allow: POST, OPTIONS (404 for an unknown path)
 *
 * Guards run in this order: method, path, sender (token, then policy; before the body is read),
 * size and the byte budget (core/http-body.ts, before reading), content mode and decoding,
 * validation, hop limit, EventPolicy filters, batch and record size, durable append.
 */

/** A sender whose allowing EventPolicies all have filters: its events are checked once decoded. */
interface FilteredSender {
  readonly subject: string;
  readonly allowing: readonly SenderPolicy[];
}

export interface RouteDeps {
  readonly table: IngressTable;
  readonly appender: Appender;
  readonly config: IngressConfig;
  readonly logger: Logger;
  /** Off by default: the trace headers are only copied into the records. */
  readonly tracing?: Tracing | undefined;
  /** Verifies senders' tokens; undefined when the ingress has no OIDC issuer configured. */
  readonly verifier: TokenVerifier | undefined;
  /** Counts refused requests (the appender counts appends); absent: no metrics. */
  readonly metrics?: IngressMetrics | undefined;
}

const ALLOW = 'POST, OPTIONS';
const OTHER_METHODS = ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH'] as const;
const EMPTY = Buffer.alloc(0);

export function registerIngressRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const { table, appender, logger, verifier, metrics } = deps;
  metrics?.register(app);
  const unavailableHeaders = { 'retry-after': String(deps.config.retryAfterSeconds) };
  const methodHeaders = { allow: ALLOW };
  const debug = logger.isLevelEnabled('debug');
  const tracer = deps.tracing?.tracer;

  const notFound = (reply: FastifyReply, path: string): FastifyReply =>
    table.loaded
      ? sendError(reply, new BrokerError('NOT_FOUND', `no broker, channel or sink is served at ${path}`, { details: { path } }))
      : sendError(reply, new BrokerError('LOG_UNAVAILABLE', 'the ingress has no contract yet; retry shortly', { details: { path } }), unavailableHeaders);

  // Requests that passed the sender check on condition that their events pass policy filters.
  const filtered = new WeakMap<FastifyRequest, FilteredSender>();

  /** Why this request may not publish to this entry, the filters its events must pass, or undefined when it may. */
  const authorize = async (entry: IngressEntry, authorization: string | undefined): Promise<BrokerError | FilteredSender | undefined> => {
    const audience = entry.audience!;
    if (verifier === undefined) {
      // Fail closed: the controller asked for authentication this ingress cannot do.
      return new BrokerError('AUTH_UNAVAILABLE', `${entry.path} requires OIDC sender authentication, and this ingress has no OIDC issuer configured (--oidc-issuer)`, { details: { audience } });
    }
    let subject: string;
    try {
      subject = (await verifier.verify(authorization, audience)).subject;
    } catch (error) {
      return asBrokerError(error);
    }
    const allowing = rulesAllowing(entry.senders, subject);
    if (allowing === 'no-policies' || allowing.some((rule) => rule.accepts === undefined)) return undefined;
    if (allowing.length > 0) return { subject, allowing };
    const policies = (entry.senders ?? []).map((rule) => rule.policy);
    return new BrokerError('SENDER_NOT_ALLOWED', `no EventPolicy applying to ${entry.path} allows ${subject}`, { details: { subject, policies } });
  };

  app.route({
    method: 'POST',
    url: '/*',
    // 404, 401 and 403 before fastify reads the body: an unknown path or sender costs no parsing.
    // Callback style: a broker without an audience costs no promise.
    onRequest: (request, reply, done) => {
      metrics?.arrived(request);
      const path = pathOf(request.url);
      const entry = table.lookup(path);
      if (entry === undefined) {
        notFound(reply, path);
        return;
      }
      if (entry.audience === undefined) {
        done();
        return;
      }
      void authorize(entry, request.headers.authorization).then((refused) => {
        if (refused === undefined || !(refused instanceof BrokerError)) {
          if (refused !== undefined) filtered.set(request, refused);
          done();
          return;
        }
        if (debug || refused.status >= 500) logger[refused.status >= 500 ? 'warn' : 'debug']({ path, code: refused.code, details: refused.details }, refused.message);
        metrics?.refused(request, entry, refused.status);
        sendError(reply, refused, refused.status === 503 ? unavailableHeaders : undefined);
      }, (error: unknown) => sendError(reply, asBrokerError(error)));
    },
    handler: async (request: FastifyRequest, reply: FastifyReply) => {
      const path = pathOf(request.url);
      // Looked up again: the contract may have changed while the body was read.
      const entry = table.lookup(path);
      if (entry === undefined) return notFound(reply, path);
      const startTime = tracer === undefined ? 0 : spanStartTime();
      const received = receive(entry, request.headers, (request.body as Buffer | undefined) ?? EMPTY);
      // The request's W3C context; the events' distributed-tracing extensions stay as they are.
      const hop = traceHeadersOfHttp(request.headers);
      if (!received.ok) {
        if (debug) logger.debug({ path, code: received.error.code, details: received.error.details }, received.error.message);
        if (tracer !== undefined) recordRefused(tracer, hop, entry, path, received.error, startTime);
        metrics?.refused(request, entry, received.error.status);
        return sendError(reply, received.error);
      }
      const sender = filtered.get(request);
      if (sender !== undefined) {
        const refused = refusedByFilters(entry, sender, received.events);
        if (refused !== undefined) {
          if (debug) logger.debug({ path, code: refused.code, details: refused.details }, refused.message);
          if (tracer !== undefined) recordRefused(tracer, hop, entry, path, refused, startTime);
          metrics?.refused(request, entry, refused.status);
          return sendError(reply, refused);
        }
      }
      if (received.warnings !== undefined && debug) logger.debug({ path, warnings: received.warnings }, 'event accepted with warnings');
      let spans: IngressSpans | undefined;
      if (tracer !== undefined) spans = startIngressSpans(tracer, hop, entry, path, received.events, startTime);
      try {
        await appender.append(entry, received.events, spans === undefined ? hop : spans.recordContext);
      } catch (error) {
        const brokerError = asBrokerError(error);
        spans?.end(brokerError);
        logger.warn({ path, topic: entry.topic, code: brokerError.code, err: brokerError.cause ?? brokerError }, brokerError.message);
        return sendError(reply, brokerError, brokerError.status === 503 ? unavailableHeaders : undefined);
      }
      spans?.end();
      return reply.code(202).send();
    },
  });

  // CloudEvents HTTP webhook spec §4.1: the abuse-protection handshake. We accept deliveries from
  // any origin at any rate (the broker is an internal service), and say so.
  app.route({
    method: 'OPTIONS',
    url: '/*',
    handler: (request, reply) => {
      const path = pathOf(request.url);
      if (table.lookup(path) === undefined) return notFound(reply, path);
      const origin = request.headers['webhook-request-origin'];
      return reply
        .code(200)
        .headers({
          allow: ALLOW,
          'webhook-allowed-origin': typeof origin === 'string' && origin.length > 0 ? origin : '*',
          'webhook-allowed-rate': '*',
        })
        .send();
    },
  });

  app.route({
    method: [...OTHER_METHODS],
    url: '/*',
    handler: (request, reply) => {
      const path = pathOf(request.url);
      if (table.lookup(path) === undefined) return notFound(reply, path);
      return sendError(reply, new BrokerError('METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${path}: send events with POST`, { details: { allow: ALLOW } }), methodHeaders);
    },
  });
}

/** 403 when an event of the request passes the filters of none of the policies allowing its sender; a batch is refused whole. */
function refusedByFilters(entry: IngressEntry, sender: FilteredSender, events: readonly CloudEvent[]): BrokerError | undefined {
  for (const event of events) {
    const policies = filtersRefusing(sender.allowing, event);
    if (policies === undefined) continue;
    const id = String(event.attributes['id']);
    return new BrokerError('SENDER_NOT_ALLOWED', `event ${id} (type ${String(event.attributes['type'])}) from ${sender.subject} to ${entry.path} does not pass the filters of EventPolicy ${policies.join(', ')}`, {
      details: { subject: sender.subject, policies, reason: 'filters', id },
    });
  }
  return undefined;
}
