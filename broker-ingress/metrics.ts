import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CloudEvent } from '../core/cloudevents/event.js';
import { dispatchLatency, EventTypeFold, type Registry } from '../core/metrics.js';
import type { AppendObserver } from './append.js';
import type { IngressEntry } from './ingress-table.js';

interface Child {
  observe(value: number): void;
}

/** When a request arrived (a request decorator, so every request has the same shape). */
const STARTED = 'kafkaBrokerIngressStarted';
type Timed = { [STARTED]: number };

/**
 * The ingress's metric: Knative's `kn_eventing_dispatch_latency_ms` with `kn_broker_namespace`,
 * `kn_broker_name`, `cloudevents_type` and `http_response_status_code` — one observation per
 * event, of the time its append to the log took (202, or 503 when the log did not take it).
 * POSTs refused before any append (400, 401, 403, 413 on a served path) are observed once each,
 * with their request time and no type. Paths no resource is served at (404) are not observed:
 * their label values would come from whoever sends requests.
 *
 * Event types fold into `other` past `maxEventTypes` distinct ones (core/metrics.ts). Label
 * children are cached per entry (a WeakMap, so a resource gone from the contract takes its cache
 * with it), then per status and type.
 *
 * Refusals are reported by the routes and the server's error handler where they happen (`refused`),
 * not by an onResponse hook: such a hook makes fastify put listeners on every response; with the
 * appender's extra async frame it cost about 15 % more CPU per event with metrics on.
 */
export class IngressMetrics implements AppendObserver {
  private readonly histogram;
  private readonly fold: EventTypeFold;
  private readonly children = new WeakMap<IngressEntry, Map<number, Map<string, Child>>>();

  constructor(registry: Registry, maxEventTypes: number) {
    this.histogram = dispatchLatency(registry);
    this.fold = new EventTypeFold(maxEventTypes);
  }

  appended(entry: IngressEntry, events: readonly CloudEvent[], ms: number, status: number): void {
    const byType = this.byType(entry, status);
    for (let i = 0; i < events.length; i++) this.child(entry, byType, this.fold.label(events[i]!.attributes['type']), status).observe(ms);
  }

  /** Lets requests carry their arrival time (`arrived`), for `refused`. */
  register(app: FastifyInstance): void {
    app.decorateRequest(STARTED, 0);
  }

  /** For the route's onRequest hook. */
  arrived(request: FastifyRequest): void {
    (request as unknown as Timed)[STARTED] = performance.now();
  }

  /** A POST to a served path refused before reaching the log (400, 401, 403, 413, ...). */
  refused(request: FastifyRequest, entry: IngressEntry, status: number): void {
    // 503s are the log's or the byte budget's: the appender observes the log's per event.
    if (status === 503) return;
    const started = (request as unknown as Timed)[STARTED];
    this.child(entry, this.byType(entry, status), '', status).observe(started === 0 ? 0 : performance.now() - started);
  }

  private byType(entry: IngressEntry, status: number): Map<string, Child> {
    let byStatus = this.children.get(entry);
    if (byStatus === undefined) {
      byStatus = new Map();
      this.children.set(entry, byStatus);
    }
    let byType = byStatus.get(status);
    if (byType === undefined) {
      byType = new Map();
      byStatus.set(status, byType);
    }
    return byType;
  }

  private child(entry: IngressEntry, byType: Map<string, Child>, type: string, status: number): Child {
    let child = byType.get(type);
    if (child === undefined) {
      child = this.histogram.labels({
        kn_broker_namespace: entry.reference.namespace, kn_broker_name: entry.reference.name, cloudevents_type: type, http_response_status_code: String(status),
      });
      byType.set(type, child);
    }
    return child;
  }
}
