import type { FastifyInstance } from 'fastify';
import type { CloudEvent } from '../core/cloudevents/event.js';
import { pathOf } from '../core/http-server.js';
import { dispatchLatency, EventTypeFold, type Registry } from '../core/metrics.js';
import type { AppendObserver } from './append.js';
import type { IngressEntry, IngressTable } from './ingress-table.js';

/**
 * The ingress's metric: Knative's `kn_eventing_dispatch_latency_ms` with `kn_broker_namespace`,
 * `kn_broker_name`, `cloudevents_type` and `http_response_status_code` — one observation per
 * event, of the time its append to the log took (202, or 503 when the log did not take it).
 * Requests refused before any append (400, 413, 405 on a served path) are observed once each,
 * with their request time and no type. Paths no resource is served at (404) are not observed:
 * their label values would come from whoever sends requests.
 *
 * Event types fold into `other` past `maxEventTypes` distinct ones (core/metrics.ts). Label
 * children are cached per entry (a WeakMap, so a resource gone from the contract takes its cache
 * with it) and per type and status: no label hashing per event after the first.
 */
export class IngressMetrics implements AppendObserver {
  private readonly histogram;
  private readonly fold: EventTypeFold;
  private readonly children = new WeakMap<IngressEntry, Map<string, { observe(value: number): void }>>();

  constructor(registry: Registry, maxEventTypes: number) {
    this.histogram = dispatchLatency(registry);
    this.fold = new EventTypeFold(maxEventTypes);
  }

  appended(entry: IngressEntry, events: readonly CloudEvent[], ms: number, status: number): void {
    for (const event of events) this.child(entry, this.fold.label(event.attributes['type']), status).observe(ms);
  }

  /** Counts the requests to served paths that were refused before reaching the log. */
  register(app: FastifyInstance, table: IngressTable): void {
    app.addHook('onResponse', (request, reply, done) => {
      const status = reply.statusCode;
      // 202 and 503 were observed per event by the appender.
      if (status !== 202 && status !== 503 && request.method === 'POST') {
        const entry = table.lookup(pathOf(request.url));
        if (entry !== undefined) this.child(entry, '', status).observe(reply.elapsedTime);
      }
      done();
    });
  }

  private child(entry: IngressEntry, type: string, status: number): { observe(value: number): void } {
    let byKey = this.children.get(entry);
    if (byKey === undefined) {
      byKey = new Map();
      this.children.set(entry, byKey);
    }
    const key = `${status} ${type}`;
    let child = byKey.get(key);
    if (child === undefined) {
      child = this.histogram.labels({
        kn_broker_namespace: entry.reference.namespace, kn_broker_name: entry.reference.name, cloudevents_type: type, http_response_status_code: String(status),
      });
      byKey.set(key, child);
    }
    return child;
  }
}
