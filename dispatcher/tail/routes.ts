import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { encodeStructuredJson } from '../../core/cloudevents/json-format.js';
import type { ContractSource } from '../../core/contract/source.js';
import { parse as parseCesql } from '../../core/cesql/parser.js';
import { BrokerError } from '../../core/errors.js';
import type { EventLog } from '../../core/event-log/port.js';
import { compileFilter, type EventPredicate } from '../../core/filters/compile.js';
import type { Logger } from '../../core/logger.js';
import { livePagePolicy, renderLivePage, type LiveBroker } from './page.js';
import { tail, type TailStart } from './stream.js';

/**
 * `GET /tail`: the live view (page.ts), a page that streams the route below for a chosen broker.
 *
 * `GET /tail/<ns>/<broker>?trigger=<name> | filter=<CESQL>, from=<RFC 3339> | n=<N>`: the broker's
 * events as server-sent events, live until the client goes away. Each is
 *
 *   id: <partition>/<offset>
 *   event: cloudevent            data: the event in JSON format, plus "partition", "offset", "appended"
 *   event: undecodable           data: {"partition","offset","appended","problem"} (only without a filter)
 *
 * with a comment line every 15 s so that proxies keep the connection.
 */
export interface TailRouteDeps {
  readonly log: EventLog;
  readonly contracts: ContractSource;
  readonly logger: Logger;
}

export function registerTailRoutes(app: FastifyInstance, deps: TailRouteDeps): void {
  // Streams never end by themselves: closing the server ends them (else it would wait for their clients).
  const streams = new Set<AbortController>();
  app.addHook('preClose', (done) => {
    for (const abort of streams) abort.abort();
    done();
  });
  app.get('/tail', async (_request, reply) => {
    const brokers: LiveBroker[] = (deps.contracts.current()?.resources ?? [])
      .filter((r) => r.kind === 'Broker')
      .map((r) => ({ namespace: r.reference.namespace, name: r.reference.name, triggers: r.egresses.filter((e) => e.reference.kind === 'Trigger').map((e) => e.reference.name).sort() }))
      .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
    const nonce = randomBytes(16).toString('base64');
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').header('content-security-policy', livePagePolicy(nonce));
    return renderLivePage(brokers, nonce);
  });
  app.get<{ Params: { namespace: string; broker: string }; Querystring: Record<string, string | undefined> }>('/tail/:namespace/:broker', async (request, reply) => {
    const { namespace, broker } = request.params;
    const query = request.query;
    const resource = deps.contracts.current()?.resources.find((r) => r.kind === 'Broker' && r.reference.namespace === namespace && r.reference.name === broker);
    const topic = resource?.topics[0];
    if (resource === undefined || topic === undefined) throw new BrokerError('NOT_FOUND', `no broker ${namespace}/${broker}`, { details: { broker: `${namespace}/${broker}` } });
    const filter = filterOf(query, resource.egresses, `${namespace}/${broker}`);
    const start = startOf(query);

    const abort = new AbortController();
    streams.add(abort);
    abort.signal.addEventListener('abort', () => streams.delete(abort), { once: true });
    // The response's 'close' (not the request's, which may have fired once its empty body was read) says the client went away.
    reply.raw.on('close', () => abort.abort());
    if ((await deps.log.describeTopic(topic)) === undefined) throw new BrokerError('TOPIC_NOT_FOUND', `the topic of broker ${namespace}/${broker} does not exist yet`);
    const stream = tail(deps.log, topic, { start, filter, signal: abort.signal });
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no', connection: 'close' });
    res.write(': tailing\n\n');
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    try {
      for await (const e of stream) {
        const meta = { partition: e.partition, offset: e.offset, appended: new Date(e.timestamp).toISOString() };
        const data = e.event === undefined
          ? JSON.stringify({ ...meta, problem: e.problem })
          : JSON.stringify({ ...(JSON.parse(encodeStructuredJson(e.event).toString('utf8')) as Record<string, unknown>), ...meta });
        res.write(`id: ${e.partition}/${e.offset}\nevent: ${e.event === undefined ? 'undecodable' : 'cloudevent'}\ndata: ${data}\n\n`);
      }
    } catch (error) {
      if (!abort.signal.aborted) {
        deps.logger.warn({ err: error, broker: `${namespace}/${broker}` }, 'tail ended by an error');
        res.write(`event: error\ndata: ${JSON.stringify({ message: (error as Error).message })}\n\n`);
      }
    } finally {
      clearInterval(keepAlive);
      abort.abort();
      res.end();
    }
  });
}

function filterOf(query: Record<string, string | undefined>, egresses: readonly { reference: { name: string }; filter: Parameters<typeof compileFilter>[0] }[], broker: string): EventPredicate | undefined {
  const { trigger, filter } = query;
  if (trigger !== undefined && filter !== undefined) throw new BrokerError('INVALID_REQUEST', 'give trigger or filter, not both');
  if (trigger !== undefined) {
    const egress = egresses.find((e) => e.reference.name === trigger);
    if (egress === undefined) throw new BrokerError('NOT_FOUND', `no trigger ${trigger} on broker ${broker}`);
    return compileFilter(egress.filter);
  }
  if (filter !== undefined) {
    const parsed = parseCesql(filter);
    if (!parsed.ok) throw new BrokerError('INVALID_REQUEST', `filter: ${parsed.error.message}`, { details: { filter } });
    return compileFilter({ kind: 'cesql', expression: filter });
  }
  return undefined;
}

function startOf(query: Record<string, string | undefined>): TailStart {
  const { from, n } = query;
  if (from !== undefined && n !== undefined) throw new BrokerError('INVALID_REQUEST', 'give from or n, not both');
  if (from !== undefined) {
    const at = Date.parse(from);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(from) || Number.isNaN(at)) throw new BrokerError('INVALID_REQUEST', `from ${JSON.stringify(from)} is not an RFC 3339 time (e.g. 2026-12-04T10:00:00Z)`);
    return { kind: 'time', at };
  }
  if (n !== undefined) {
    if (!/^\d{1,6}$/.test(n)) throw new BrokerError('INVALID_REQUEST', `n ${JSON.stringify(n)} is not a count from 0 to 999999`);
    return { kind: 'last', count: Number(n) };
  }
  return { kind: 'end' };
}
