import { networkInterfaces, hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { csrfTokenOf } from '../../core/admin-auth/index.js';
import { BrokerError, isBrokerError } from '../../core/errors.js';
import { renderDeadLettersPage } from './page.js';
import { parseQuery, parseReplayBody } from './query.js';
import { replayTargetProblem } from './replay-target.js';
import type { DeadLetterService } from './service.js';
import type { DeadLetterList } from './types.js';

/**
 * The dead-letters API and page on the admin server:
 *
 *   GET  /dead-letters                    the page (HTML; filters as query parameters)
 *   GET  /dead-letters/events             the list: ?sink=&trigger=&subscription=&type=&since=&limit=
 *   GET  /dead-letters/events/<id>        one dead letter in full (an event id may match several)
 *   POST /dead-letters/replay             {"ids":[…]} or {"all":true, <filters>}, "to", "force"
 */

export interface DeadLetterRouteOptions {
  /** The base URLs of this process's own servers (admin API, ingress), which a replay's `to` may not name. */
  readonly ownUrls?: () => readonly string[];
}

/** Registers the API and the page on the admin server (before it listens), behind its guard (core/admin-auth). */
export function registerDeadLetterRoutes(app: FastifyInstance, service: DeadLetterService, options: DeadLetterRouteOptions = {}): void {
  app.get<{ Querystring: Record<string, string | undefined> }>('/dead-letters', async (request, reply) => {
    const raw = request.query;
    let list: DeadLetterList | undefined;
    let problem: string | undefined;
    try {
      list = await service.list(parseQuery(raw, Date.now()));
    } catch (error) {
      if (!isBrokerError(error) || error.status >= 500) throw error;
      problem = error.message;
    }
    reply.code(problem === undefined ? 200 : 400).type('text/html; charset=utf-8');
    return renderDeadLettersPage({ list, problem, filters: raw, sinks: service.sinks(), csrfToken: csrfTokenOf(request) });
  });
  app.get<{ Querystring: Record<string, string | undefined> }>('/dead-letters/events', async (request) => service.list(parseQuery(request.query, Date.now())));
  app.get<{ Params: { id: string } }>('/dead-letters/events/:id', async (request) => ({ items: await service.show(request.params.id) }));
  app.post('/dead-letters/replay', async (request) => {
    const replay = parseReplayBody(request.body, Date.now());
    if (replay.to !== undefined) {
      const problem = replayTargetProblem(replay.to, { urls: options.ownUrls?.() ?? [], localHosts: localHosts() });
      if (problem !== undefined) throw new BrokerError('INVALID_REQUEST', problem, { details: { to: replay.to } });
    }
    return service.replay(replay);
  });
}

/** This machine's names and interface addresses. */
function localHosts(): string[] {
  const addresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
  return [hostname(), ...addresses];
}
