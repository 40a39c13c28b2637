import type { FastifyInstance } from 'fastify';
import { isBrokerError } from '../../core/errors.js';
import { renderDeadLettersPage } from './page.js';
import { parseQuery, parseReplayBody } from './query.js';
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

/** Registers the API and the page on the admin server (before it listens). */
export function registerDeadLetterRoutes(app: FastifyInstance, service: DeadLetterService): void {
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
    return renderDeadLettersPage({ list, problem, filters: raw, sinks: service.sinks() });
  });
  app.get<{ Querystring: Record<string, string | undefined> }>('/dead-letters/events', async (request) => service.list(parseQuery(request.query, Date.now())));
  app.get<{ Params: { id: string } }>('/dead-letters/events/:id', async (request) => ({ items: await service.show(request.params.id) }));
  app.post('/dead-letters/replay', async (request) => service.replay(parseReplayBody(request.body, Date.now())));
}
