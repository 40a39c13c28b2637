import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BrokerError } from '../errors.js';
import { pathOf } from '../http-server.js';
import { hostAllowed, sameOrigin } from './hosts.js';
import { renderLoginPage, safeNext } from './login-page.js';
import { SessionStore, type AdminSession } from './sessions.js';
import type { AdminAuth, AdminIdentity } from './types.js';

/**
 * The admin API's guard: one onRequest hook in front of every route (health endpoints excepted),
 * in this order:
 *
 *   Host      a name of this server (or an IP literal)        else 403  (DNS rebinding)
 *   Origin    absent, or this server's own origin             else 403  (cross-site requests)
 *   POST…     Content-Type application/json                   else 415  (no form or text/plain posts)
 *   who       Authorization: Bearer <token>, or the login session's cookie      else 401
 *             (a browser GET for a page is sent to /login instead)
 *   CSRF      a session's POST carries its X-CSRF-Token                          else 403
 *   may?      auth.authorize(identity, method + path)          else 403
 *
 * A bearer header needs no CSRF token: a browser never adds one by itself. The session cookie is
 * HttpOnly and SameSite=Strict, so another site's page can neither read it nor make the browser
 * send it. `/login` (GET: the page; POST `{"token"}`: opens a session) and `/logout` come with it.
 */

export interface AdminGuardOptions {
  /** How callers prove who they are; undefined: no authentication (listening on loopback only). */
  readonly auth: AdminAuth | undefined;
  /** Host names this server answers to besides `localhost` and IP literals (e.g. its Service's names). */
  readonly hostNames?: readonly string[];
  /** Paths served to anyone (the kubelet's probes). */
  readonly openPaths?: readonly string[];
  readonly sessions?: SessionStore;
}

export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const sessionsOf = new WeakMap<FastifyRequest, AdminSession>();
const identitiesOf = new WeakMap<FastifyRequest, AdminIdentity>();

/** Who made this request, once the guard authenticated it; undefined without authentication. */
export function adminIdentityOf(request: FastifyRequest): AdminIdentity | undefined {
  return identitiesOf.get(request);
}

/** The CSRF token a page served to this request must send back with its POSTs, if it came with a session. */
export function csrfTokenOf(request: FastifyRequest): string | undefined {
  return sessionsOf.get(request)?.csrf;
}

export function registerAdminGuard(app: FastifyInstance, options: AdminGuardOptions): void {
  const open = new Set(options.openPaths ?? ['/healthz', '/readyz']);
  const hostNames = options.hostNames ?? [];
  const sessions = options.sessions ?? new SessionStore();
  const { auth } = options;

  app.addHook('onRequest', async (request, reply) => {
    const path = pathOf(request.url);
    if (open.has(path)) return;
    const host = request.headers.host;
    if (!hostAllowed(host, hostNames)) {
      throw new BrokerError('FORBIDDEN', `the Host header ${JSON.stringify(host ?? '')} is not a name of this admin API`, { details: { reason: 'host' } });
    }
    const origin = request.headers.origin;
    if (origin !== undefined && !sameOrigin(origin, host)) {
      throw new BrokerError('FORBIDDEN', `cross-site request refused: Origin ${JSON.stringify(origin)} is not this admin API`, { details: { reason: 'origin' } });
    }
    const unsafe = !SAFE_METHODS.has(request.method);
    const fetchSite = request.headers['sec-fetch-site'];
    if (unsafe && (fetchSite === 'cross-site' || fetchSite === 'same-site')) {
      throw new BrokerError('FORBIDDEN', `cross-site request refused (Sec-Fetch-Site: ${fetchSite})`, { details: { reason: 'origin' } });
    }
    if (unsafe && !isJson(request.headers['content-type'])) {
      throw new BrokerError('UNSUPPORTED_MEDIA_TYPE', `${request.method} ${path} takes only application/json`, { details: { contentType: request.headers['content-type'] ?? null } });
    }
    if (auth === undefined || path === '/login') return;

    const bearer = bearerOf(request.headers.authorization);
    let identity: AdminIdentity | undefined;
    if (bearer !== undefined) {
      identity = await auth.authenticate(bearer);
      if (identity === undefined) return unauthenticated(reply, 'the bearer token is not valid');
    } else {
      const session = sessions.get(cookieOf(request.headers.cookie, cookieName(request)));
      identity = session === undefined ? undefined : await auth.authenticate(session.token);
      if (session !== undefined && identity === undefined) sessions.close(session.id);
      if (session === undefined || identity === undefined) {
        if (request.method === 'GET' && /\btext\/html\b/.test(request.headers.accept ?? '')) {
          return reply.redirect(`/login?next=${encodeURIComponent(request.url)}`, 303);
        }
        if (path === '/logout') return;
        return unauthenticated(reply, 'the admin API needs Authorization: Bearer <token> (kafka-broker: --token-file or KAFKA_BROKER_ADMIN_TOKEN)');
      }
      if (unsafe && !sameSecret(request.headers[CSRF_HEADER], session.csrf)) {
        throw new BrokerError('FORBIDDEN', `${request.method} ${path} from a login session needs its ${CSRF_HEADER} header`, { details: { reason: 'csrf' } });
      }
      sessionsOf.set(request, session);
    }
    identitiesOf.set(request, identity);
    if (path === '/logout') return;
    if (!(await auth.authorize(identity, { method: request.method, path }))) {
      throw new BrokerError('FORBIDDEN', `${identity.name} may not ${request.method} ${path}`, { details: { reason: 'authorization', user: identity.name } });
    }
  });

  if (auth === undefined) return;
  app.get<{ Querystring: { next?: string } }>('/login', async (request, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(renderLoginPage(safeNext(request.query.next))));
  app.post('/login', async (request, reply) => {
    const token = tokenOf(request.body);
    if (token === undefined) throw new BrokerError('INVALID_REQUEST', 'the login request must be JSON {"token": "<admin token>"}');
    const identity = await auth.authenticate(token);
    if (identity === undefined) return unauthenticated(reply, 'the token is not valid');
    const session = sessions.open(token);
    reply.header('set-cookie', `${cookieName(request)}=${session.id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${sessions.maxAgeSeconds}`);
    return { user: identity.name };
  });
  app.post('/logout', async (request, reply) => {
    const session = sessionsOf.get(request);
    if (session !== undefined) sessions.close(session.id);
    reply.header('set-cookie', `${cookieName(request)}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
    return reply.code(204).send();
  });
}

function unauthenticated(reply: FastifyReply, message: string): never {
  reply.header('www-authenticate', 'Bearer realm="kafka-broker admin"');
  throw new BrokerError('UNAUTHENTICATED', message);
}

/** Cookies are per host, not per port: the port in the name keeps two admin servers of one host apart. */
function cookieName(request: FastifyRequest): string {
  return `kafka-broker-admin-${request.socket.localPort ?? 0}`;
}

function isJson(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/json\s*(;|$)/i.test(contentType.trim());
}

function bearerOf(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** One cookie's value from a Cookie header (RFC 6265 §4.2: `name=value; name=value`). */
export function cookieOf(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function sameSecret(given: string | string[] | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function tokenOf(body: unknown): string | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.isBuffer(body) ? body.toString('utf8') : String(body));
    const token = typeof parsed === 'object' && parsed !== null ? (parsed as { token?: unknown }).token : undefined;
    return typeof token === 'string' && token !== '' ? token : undefined;
  } catch {
    return undefined;
  }
}
