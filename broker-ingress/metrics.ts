import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CloudEvent } from '../core/cloudevents/event.js';
import { dispatchLatency, EventTypeFold, type HistogramSeries, type Registry } from '../core/metrics.js';
import type { AppendObserver } from './append.js';
import type { IngressEntry } from './ingress-table.js';

/** The series of one entry and status: kept types by name, and the folded ones. */
interface StatusSeries {
  readonly byType: Map<string, HistogramSeries>;
  other?: HistogramSeries;
  untyped?: HistogramSeries;
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
 * Event types fold into `other` past `maxEventTypes` distinct ones (core/metrics.ts). Series
 * are bound per entry (a WeakMap, so a resource gone from the contract takes its cache with it),
 * then per status and type: an event of a type seen before costs three map lookups and the
 * series' own additions (core/metrics-bound.ts). Only kept types are map keys, so the fold runs
 * once per kept type and a producer sending ever new types grows no map here.
 *
 * Refusals are reported by the routes and the server's error handler where they happen (`refused`),
 * not by an onResponse hook: such a hook makes fastify put listeners on every response; with the
 * appender's extra async frame it cost about 15 % more CPU per event with metrics on.
 */
export class IngressMetrics implements AppendObserver {
  private readonly histogram;
  private readonly fold: EventTypeFold;
  private readonly series = new WeakMap<IngressEntry, Map<number, StatusSeries>>();

  constructor(registry: Registry, maxEventTypes: number) {
    this.histogram = dispatchLatency(registry);
    this.fold = new EventTypeFold(maxEventTypes);
  }

  appended(entry: IngressEntry, events: readonly CloudEvent[], ms: number, status: number): void {
    const of = this.ofStatus(entry, status);
    for (let i = 0; i < events.length; i++) {
      const type = events[i]!.attributes['type'];
      const series = (typeof type === 'string' ? of.byType.get(type) : undefined) ?? this.bind(entry, of, type, status);
      series.observe(ms);
    }
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
    this.refusedSince(entry, status, (request as unknown as Timed)[STARTED]);
  }

  /** `refused`, for a request that arrived at `startedMs` (performance.now(); 0: not known). */
  refusedSince(entry: IngressEntry, status: number, startedMs: number): void {
    // 503s are the log's or the byte budget's: the appender observes the log's per event.
    if (status === 503) return;
    this.bind(entry, this.ofStatus(entry, status), undefined, status).observe(startedMs === 0 ? 0 : performance.now() - startedMs);
  }

  /** When a request `arrived` (0: not recorded). */
  startedOf(request: FastifyRequest): number {
    return (request as unknown as Timed)[STARTED];
  }

  private ofStatus(entry: IngressEntry, status: number): StatusSeries {
    let byStatus = this.series.get(entry);
    if (byStatus === undefined) {
      byStatus = new Map();
      this.series.set(entry, byStatus);
    }
    let of = byStatus.get(status);
    if (of === undefined) {
      of = { byType: new Map() };
      byStatus.set(status, of);
    }
    return of;
  }

  /** The series for a type not bound yet under this entry and status: folded, then bound. */
  private bind(entry: IngressEntry, of: StatusSeries, type: unknown, status: number): HistogramSeries {
    const label = this.fold.label(type);
    const series = (): HistogramSeries => this.histogram.child({
      kn_broker_namespace: entry.reference.namespace, kn_broker_name: entry.reference.name, cloudevents_type: label, http_response_status_code: String(status),
    });
    if (label === '') return of.untyped ??= series();
    if (label === type) {
      const kept = series();
      of.byType.set(label, kept);
      return kept;
    }
    return of.other ??= series();
  }
}
