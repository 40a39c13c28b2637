import type { FastifyInstance } from 'fastify';
import { adminIdentityOf } from '../../core/admin-auth/index.js';
import { BrokerError } from '../../core/errors.js';
import { isRecord } from '../../core/values.js';
import type { MoveMode, Rewinder } from './service.js';

/**
 * The admin API's rewind routes (registered by `start` on the admin server, behind its guard):
 *
 *   POST /triggers/<ns>/<name>/rewind   {"to": "...", "dryRun"?: bool, "confirm"?: bool}
 *   POST /triggers/<ns>/<name>/skip     the same; "to" is a time or "latest"
 *   GET  /triggers/<ns>/<name>/rewinds  {"items": [RewindRecord...]}: who, when, from, to
 *
 * `rewinder` is read per request: the dispatcher starts after the admin API listens.
 */
export function registerRewindRoutes(app: FastifyInstance, rewinder: () => Rewinder | undefined): void {
  const running = (): Rewinder => {
    const r = rewinder();
    if (r === undefined) throw new BrokerError('LOG_UNAVAILABLE', 'the dispatcher is not running yet');
    return r;
  };
  for (const mode of ['rewind', 'skip'] as const satisfies readonly MoveMode[]) {
    app.post<{ Params: { namespace: string; name: string } }>(`/triggers/:namespace/:name/${mode}`, async (request) => {
      const body = parseBody(request.body);
      const who = adminIdentityOf(request)?.name ?? 'anonymous (admin API without authentication)';
      return running().rewind({ ...request.params, mode, ...body, who });
    });
  }
  app.get<{ Params: { namespace: string; name: string } }>('/triggers/:namespace/:name/rewinds', async (request) => ({
    items: running().records(request.params.namespace, request.params.name),
  }));
}

function parseBody(raw: unknown): { to: string; dryRun: boolean; confirm: boolean } {
  let body: unknown;
  try {
    // The admin server hands JSON bodies over as bytes.
    body = Buffer.isBuffer(raw) ? JSON.parse(raw.toString('utf8')) : raw;
  } catch {
    throw new BrokerError('INVALID_REQUEST', 'the body is not JSON');
  }
  if (!isRecord(body) || Array.isArray(body)) throw new BrokerError('INVALID_REQUEST', 'the body must be a JSON object: {"to": "...", "dryRun"?: true, "confirm"?: true}');
  for (const key of Object.keys(body)) {
    if (!['to', 'dryRun', 'confirm'].includes(key)) throw new BrokerError('INVALID_REQUEST', `unknown field ${JSON.stringify(key)}: the body takes to, dryRun and confirm`);
  }
  const { to, dryRun, confirm } = body as { to?: unknown; dryRun?: unknown; confirm?: unknown };
  if (typeof to !== 'string' || to === '') throw new BrokerError('INVALID_REQUEST', '"to" must be a non-empty string: earliest, latest, an RFC 3339 time or <partition>:<offset>,...');
  for (const [name, value] of [['dryRun', dryRun], ['confirm', confirm]] as const) {
    if (value !== undefined && typeof value !== 'boolean') throw new BrokerError('INVALID_REQUEST', `"${name}" must be true or false`);
  }
  return { to, dryRun: dryRun === true, confirm: confirm === true };
}
