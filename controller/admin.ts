import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { registerAdminGuard, type AdminGuardOptions } from '../core/admin-auth/index.js';
import type { Contract } from '../core/contract/types.js';
import { MAX_RANGES, type EgressFault } from '../core/egress-faults.js';
import { BrokerError } from '../core/errors.js';
import { MAX_REWIND_OUTCOMES, type RewindOutcome } from '../core/rewind.js';
import { createHttpServer, registerHealth } from '../core/http-server.js';
import type { Logger } from '../core/logger.js';
import { isDataPlaneRole, type DataPlaneReport, type DataPlaneReports } from './data-plane-reports.js';
import { apiVersionOf, collectionPath, KINDS, type KindInfo } from './api-kinds.js';
import type { ObjectView } from './reconciler.js';
import type { SourceProblem } from './sources/source.js';

/**
 * The admin HTTP server: one fastify instance that components extend by registering routes on it
 * before it listens (this file registers the resource routes and /contract; the dispatcher adds the dead-letter routes and page).
 *
 *   GET /                                                  index: kinds and endpoints
 *   GET /healthz, /readyz                                  alive; ready once the first pass is done
 *   GET /apis/<group>/<version>/<plural>                   a Kubernetes List, all namespaces
 *   GET /apis/<group>/<version>/namespaces/<ns>/<plural>   a List in one namespace
 *   GET /apis/<group>/<version>/namespaces/<ns>/<plural>/<name>   one object, with its status
 *   GET /api/v1/...                                        the same for core kinds (ConfigMaps)
 *   GET /problems                                          manifests that could not be read
 *   POST /data-plane/faults                                a dispatcher's faults per consumer group
 *   GET /contract                                          the data-plane contract in force (see below:
 *                                                          ETag, ?after=<generation> long-poll, gzip)
 *
 * The shapes follow the Kubernetes API, so `kubectl`'s habits carry over; errors use the
 * project's body `{ statusCode, code, error, message }` (core/errors.ts).
 *
 * Every route but /healthz and /readyz is behind the guard of core/admin-auth (Host, Origin,
 * JSON-only POSTs, authentication and authorization); it is registered first, so routes added
 * later by other components are covered too.
 */

export interface AdminServerOptions {
  readonly logger: Logger;
  /** Why the admin server is not ready (e.g. the first reconcile pass is not done), or undefined. */
  readonly notReadyReason?: () => Promise<string | undefined>;
  /** Who may use the admin API (core/admin-auth); without it, anyone who can reach the port (loopback only). */
  readonly access?: AdminGuardOptions;
}

export function createAdminServer(options: AdminServerOptions): FastifyInstance {
  // The shared bootstrap: errors as `{ statusCode, code, error, message }`, /healthz and /readyz.
  const app = createHttpServer({ bodyLimitBytes: 1024 * 1024, logger: options.logger });
  registerAdminGuard(app, options.access ?? { auth: undefined });
  // Every route any component registers is listed on the index page.
  const routes: string[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push(`${method} ${route.url}`);
  });
  registerHealth(app, { notReadyReason: options.notReadyReason ?? (async () => undefined) });
  app.get('/', async () => ({
    name: 'kafka-broker admin',
    kinds: KINDS.map((k) => ({ kind: k.kind, apiVersion: apiVersionOf(k), path: collectionPath(k) })),
    routes,
  }));
  return app;
}

/** What the resource routes read: the reconciler, whatever its source. */
export interface ResourceView {
  objects(): readonly ObjectView[];
  problems(): readonly SourceProblem[];
  contract(): Contract | undefined;
  /** Calls the listener whenever the contract may have changed; without it, long-polls check every 250 ms. */
  contractChanges?(listener: () => void): () => void;
  /** Where the data-plane processes' reports (`applied`, `process`, `role` on `/contract`) go. */
  readonly dataPlaneReports?: DataPlaneReports;
}

export function registerResourceRoutes(app: FastifyInstance, view: ResourceView): void {
  for (const info of KINDS) {
    const list = (namespace: string | undefined): unknown => ({
      apiVersion: apiVersionOf(info),
      kind: `${info.kind}List`,
      metadata: {},
      items: view.objects().filter((o) => matches(o, info) && (namespace === undefined || o.metadata.namespace === namespace)),
    });
    app.get(collectionPath(info), async () => list(undefined));
    app.get<{ Params: { namespace: string } }>(collectionPath(info, ':namespace'), async (request) => list(request.params.namespace));
    app.get<{ Params: { namespace: string; name: string } }>(`${collectionPath(info, ':namespace')}/:name`, async (request) => {
      const { namespace, name } = request.params;
      const found = view.objects().find((o) => matches(o, info) && o.metadata.namespace === namespace && o.metadata.name === name);
      if (found === undefined) throw new BrokerError('NOT_FOUND', `${info.singular} "${name}" not found in namespace "${namespace}"`);
      return found;
    });
  }
  app.get('/problems', async () => ({ problems: view.problems() }));
  registerContractRoute(app, view);
  const reports = view.dataPlaneReports;
  if (reports !== undefined) registerFaultsRoute(app, reports);
}

function matches(object: ObjectView, info: KindInfo): boolean {
  if (object.kind !== info.kind) return false;
  const slash = object.apiVersion.indexOf('/');
  return (slash < 0 ? '' : object.apiVersion.slice(0, slash)) === info.group;
}

/**
 * `GET /contract`: how the data plane in other processes (`kafka-broker ingress`, `dispatcher`)
 * gets the contract. At 10,000 triggers it is megabytes of JSON, so a client is sent it only when
 * its generation is not the one it has:
 *
 *   GET /contract                          200 the contract (`null` before the first one), ETag "<generation>"
 *   GET /contract  If-None-Match: "<g>"    304 while the generation is g
 *   GET /contract?after=<g>[&timeoutSeconds=30]
 *                                          long-poll: answers as soon as the generation is not g
 *                                          (200), or 304 after the timeout (at most 300 s)
 *   ...&applied=<g>&process=<id>&role=ingress|dispatcher
 *                                          the poller reports what it runs (data-plane-reports.ts)
 *
 * With `Accept-Encoding: gzip` the body is gzipped (about 1/20 of the JSON). Each generation is
 * serialized and compressed once, however many clients fetch it.
 */
const gzipAsync = promisify(gzip);
const MAX_LONG_POLL_SECONDS = 300;
const DEFAULT_LONG_POLL_SECONDS = 30;
const POLL_FALLBACK_MS = 250;

interface Encoded {
  readonly json: Buffer;
  gzip?: Promise<Buffer>;
}

const encodings = new WeakMap<Contract, Encoded>();

function encode(contract: Contract): Encoded {
  let encoded = encodings.get(contract);
  if (encoded === undefined) {
    encoded = { json: Buffer.from(JSON.stringify(contract)) };
    encodings.set(contract, encoded);
  }
  return encoded;
}

function registerContractRoute(app: FastifyInstance, view: ResourceView): void {
  const waiters = new Set<() => void>();
  let closing = false;
  // A long-poll must not hold up shutdown for its timeout: closing answers every waiter (304),
  // on a connection that then closes (else it would idle until its keep-alive timeout).
  app.addHook('preClose', (done) => {
    closing = true;
    for (const wake of waiters) wake();
    done();
  });

  app.get<{ Querystring: { after?: string; timeoutSeconds?: string; applied?: string; process?: string; role?: string } }>('/contract', async (request, reply) => {
    const report = reportOf(request.query);
    if (typeof report === 'string') throw new BrokerError('INVALID_REQUEST', report);
    const done = report === undefined ? undefined : view.dataPlaneReports?.polling(report);
    try {
      return await answerContract(request, reply);
    } finally {
      done?.();
    }
  });

  const answerContract = async (
    request: FastifyRequest<{ Querystring: { after?: string; timeoutSeconds?: string } }>,
    reply: FastifyReply,
  ): Promise<FastifyReply | null> => {
    const after = generationOf(request.query.after) ?? generationOf(etagValue(request.headers['if-none-match']));
    const longPoll = request.query.after !== undefined;
    const has = (contract: Contract | undefined): boolean => contract !== undefined && contract.generation !== after;
    let contract = view.contract();
    if (longPoll && !has(contract)) {
      const seconds = Math.min(MAX_LONG_POLL_SECONDS, Math.max(0, Number(request.query.timeoutSeconds ?? DEFAULT_LONG_POLL_SECONDS) || 0));
      // The response's 'close' before it is sent means the client went away.
      contract = await waitFor(() => (has(view.contract()) ? view.contract() : undefined), seconds * 1000, view, waiters, reply.raw);
      contract ??= view.contract();
    }
    if (closing) reply.header('connection', 'close');
    if (contract === undefined) {
      if (after !== undefined) return reply.code(304).send();
      return null;
    }
    const etag = `"${contract.generation}"`;
    reply.header('etag', etag).header('vary', 'accept-encoding').header('cache-control', 'no-cache');
    if (contract.generation === after) return reply.code(304).send();
    const encoded = encode(contract);
    reply.type('application/json; charset=utf-8');
    if (/\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))) {
      encoded.gzip ??= gzipAsync(encoded.json, { level: 6 });
      return reply.header('content-encoding', 'gzip').send(await encoded.gzip);
    }
    return reply.send(encoded.json);
  };
}

const heldSchema = z.object({ reason: z.string().max(200), detail: z.string().max(2000), since: z.string().max(40) }).strict();
const faultSchema = z.object({
  held: heldSchema.optional(),
  skipped: z.array(z.object({ topic: z.string().max(300), partition: z.number().int().min(0), from: z.string().regex(/^\d+$/), to: z.string().regex(/^\d+$/) }).strict()).max(MAX_RANGES),
  skippedRecords: z.number().int().min(0),
  lastSkippedAt: z.string().max(40),
}).strict();
const outcomeSchema = z.object({
  id: z.string().min(1).max(100),
  kind: z.enum(['rewind', 'skip']),
  state: z.enum(['done', 'failed']),
  who: z.string().max(300),
  at: z.string().max(40),
  to: z.string().max(1000),
  from: z.string().max(10_000),
  redelivered: z.number().int().min(0),
  skipped: z.number().int().min(0),
  generation: z.number().int().min(0),
  message: z.string().max(2000).optional(),
}).strict();
const faultsBodySchema = z.object({
  process: z.string().min(1).max(253),
  role: z.literal('dispatcher'),
  faults: z.array(z.object({ group: z.string().min(1).max(300), fault: faultSchema }).strict()).max(100_000),
  rewinds: z.array(z.object({ group: z.string().min(1).max(300), outcomes: z.array(outcomeSchema).max(MAX_REWIND_OUTCOMES) }).strict()).max(100_000).optional(),
}).strict();

/**
 * `POST /data-plane/faults`: a dispatcher's faults per consumer group (events held, records
 * skipped), and what became of the rewinds the contract asked for, all of them each time, sent
 * when they change. The controller shows them on the
 * triggers' status and as Events, for as long as the dispatcher is live.
 */
function registerFaultsRoute(app: FastifyInstance, reports: DataPlaneReports): void {
  app.post('/data-plane/faults', async (request, reply) => {
    // The server hands bodies over as bytes (core/http-server.ts), whatever their type.
    let body: unknown = request.body;
    if (Buffer.isBuffer(body) || typeof body === 'string') {
      try {
        body = JSON.parse(body.toString());
      } catch {
        throw new BrokerError('INVALID_REQUEST', 'invalid faults report: the body is not JSON');
      }
    }
    const parsed = faultsBodySchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new BrokerError('INVALID_REQUEST', `invalid faults report: ${issue.path.join('.') || 'body'}: ${issue.message}`);
    }
    const faults = new Map<string, EgressFault>();
    for (const { group, fault } of parsed.data.faults) faults.set(group, fault);
    const rewinds = new Map<string, readonly RewindOutcome[]>();
    for (const { group, outcomes } of parsed.data.rewinds ?? []) rewinds.set(group, outcomes);
    reports.reportFaults(parsed.data.process, parsed.data.role, faults, rewinds);
    return reply.code(204).send();
  });
}

/**
 * `?applied=<g>&process=<id>&role=ingress|dispatcher`: the generation a data-plane process has
 * applied; undefined when not given, a message when malformed.
 */
function reportOf(query: { applied?: string; process?: string; role?: string }): DataPlaneReport | string | undefined {
  if (query.process === undefined && query.role === undefined && query.applied === undefined) return undefined;
  const applied = generationOf(query.applied ?? '0');
  if (applied === undefined) return `applied must be a contract generation (a non-negative integer), got "${query.applied}"`;
  if (query.process === undefined || query.process === '' || query.process.length > 253) return 'process must name the reporting process (1 to 253 characters)';
  if (!isDataPlaneRole(query.role)) return `role must be ingress or dispatcher, got "${query.role ?? ''}"`;
  return { process: query.process, role: query.role, applied };
}

/** Resolves with `check()`'s first defined value, or undefined after `ms` (or when the client leaves). */
function waitFor<T>(
  check: () => T | undefined,
  ms: number,
  view: ResourceView,
  waiters: Set<() => void>,
  client: NodeJS.EventEmitter,
): Promise<T | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    let poll: NodeJS.Timeout | undefined;
    const finish = (value: T | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearInterval(poll);
      unsubscribe?.();
      waiters.delete(wake);
      client.off('close', wake);
      resolve(value);
    };
    const wake = (): void => finish(undefined);
    const timer = setTimeout(wake, ms);
    const unsubscribe = view.contractChanges?.(() => {
      const value = check();
      if (value !== undefined) finish(value);
    });
    if (unsubscribe === undefined) {
      poll = setInterval(() => {
        const value = check();
        if (value !== undefined) finish(value);
      }, POLL_FALLBACK_MS);
    }
    waiters.add(wake);
    client.once('close', wake);
    const now = check();
    if (now !== undefined) finish(now);
  });
}

function etagValue(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const match = value === undefined ? null : /^\s*(?:W\/)?"([^"]*)"/.exec(value);
  return match?.[1];
}

function generationOf(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}
