import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BrokerError, asBrokerError } from '../core/errors.js';
import { pathOf, sendError } from '../core/http-server.js';
import type { FilteredSender, IngressPosts } from './post.js';

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

const ALLOW = 'POST, OPTIONS';
const OTHER_METHODS = ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH'] as const;
const EMPTY = Buffer.alloc(0);

/**
 * The routes on fastify. A POST the ingress serves from Node's handler (fast-post.ts) never gets
 * here; those it leaves (a query string, an unusual path or Content-Type, the server closing) do,
 * and both ways run the same steps (post.ts).
 */
export function registerIngressRoutes(app: FastifyInstance, posts: IngressPosts): void {
  const { table, metrics } = posts;
  metrics?.register(app);
  const methodHeaders = { allow: ALLOW };

  const notFound = (reply: FastifyReply, path: string): FastifyReply => {
    const error = posts.notFound(path);
    return sendError(reply, error, posts.headersFor(error));
  };

  // Requests that passed the sender check on condition that their events pass policy filters.
  const filtered = new WeakMap<FastifyRequest, FilteredSender>();

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
      void posts.authorize(entry, request.headers.authorization).then((refused) => {
        if (refused === undefined || !(refused instanceof BrokerError)) {
          if (refused !== undefined) filtered.set(request, refused);
          done();
          return;
        }
        posts.senderRefused(entry, path, refused, metrics?.startedOf(request) ?? 0);
        sendError(reply, refused, posts.headersFor(refused));
      }, (error: unknown) => sendError(reply, asBrokerError(error)));
    },
    handler: async (request: FastifyRequest, reply: FastifyReply) => {
      const path = pathOf(request.url);
      // Looked up again: the contract may have changed while the body was read.
      const entry = table.lookup(path);
      if (entry === undefined) return notFound(reply, path);
      await posts.accept(entry, path, request.headers, (request.body as Buffer | undefined) ?? EMPTY, filtered.get(request), metrics?.startedOf(request) ?? 0, {
        refuse: (error, headers) => sendError(reply, error, headers),
        accepted: () => reply.code(202).send(),
      });
      return reply;
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
