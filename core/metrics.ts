import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { BoundHistogram, BufferedCounter } from './metrics-bound.js';

/**
 * What every process's metrics share: one prom-client `Registry` per process (passed in, never a
 * global, so that tests and the all-in-one `start` each get their own), the `/metrics` route,
 * the Knative-named dispatch histogram that the ingress and the dispatcher both record into, and
 * the bounded fold of event types into label values.
 *
 * Names follow Knative's Kafka broker data plane as of Knative 1.21 (OpenTelemetry, exported to
 * Prometheus with `_ms` units): `kn_eventing_dispatch_latency_ms` with `kn_broker_*` labels at the
 * ingress and `kn_trigger_*` labels at the dispatcher. What Knative has no name for is prefixed
 * `kafka_broker_`. docs/metrics.md has the table.
 */

export { Registry } from 'prom-client';
export { BoundHistogram, BufferedCounter, type HistogramSeries, type PendingIncrements } from './metrics-bound.js';

/** Milliseconds; few buckets keep each observation cheap and each scrape small. */
export const LATENCY_BUCKETS_MS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000] as const;

/** Seconds, for control-plane work (reconcile passes, contract applies). */
export const DURATION_BUCKETS_SECONDS = [0.005, 0.025, 0.1, 0.5, 1, 5, 30] as const;

export const DISPATCH_LATENCY = 'kn_eventing_dispatch_latency_ms';

/** Every label `kn_eventing_dispatch_latency_ms` may carry: ingress series leave the trigger ones unset, and the reverse. */
const DISPATCH_LABELS = [
  'kn_broker_namespace', 'kn_broker_name', 'kn_trigger_namespace', 'kn_trigger_name', 'cloudevents_type', 'http_response_status_code', 'error_type',
] as const;
export type DispatchLabel = (typeof DISPATCH_LABELS)[number];

export interface MetricsOptions {
  /** Node.js process metrics (CPU, memory, event-loop lag, GC) under `process_*` and `nodejs_*`. Default true. */
  readonly processMetrics?: boolean;
  /** A label every series of this registry carries, e.g. `{ component: 'dispatcher' }`. */
  readonly defaultLabels?: Readonly<Record<string, string>>;
}

/** A registry for one process, with process metrics unless told otherwise. */
export function createMetricsRegistry(options: MetricsOptions = {}): Registry {
  const registry = new Registry();
  if (options.defaultLabels !== undefined) registry.setDefaultLabels({ ...options.defaultLabels });
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * `GET /metrics` in the Prometheus text format. The one place the route is registered, so that
 * putting it behind the admin authentication (or not) is a change here. It is open on purpose:
 * Prometheus scrapes without a token by default, and nothing in it is secret (resource names).
 */
export function registerMetricsRoute(app: FastifyInstance, registry: Pick<Registry, 'metrics' | 'contentType'>): void {
  app.get('/metrics', async (_request, reply) => {
    const text = await registry.metrics();
    return reply.code(200).type(registry.contentType).send(text);
  });
}

/**
 * Finds a metric by name in the registry or creates it: the ingress and the dispatcher of one
 * `start` process share the registry, and prom-client refuses a second metric of the same name.
 */
function shared<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

/**
 * Knative's dispatch latency: at the ingress the time to append to the log, at the dispatcher one
 * attempt at the subscriber. Observed once per event: bound children (core/metrics-bound.ts).
 */
export function dispatchLatency(registry: Registry): BoundHistogram<DispatchLabel> {
  return shared(registry, DISPATCH_LATENCY, () => new BoundHistogram({
    name: DISPATCH_LATENCY,
    help: 'Time to dispatch an event, in ms: to the event log at the ingress (kn_broker_* labels), to the subscriber at the dispatcher (kn_trigger_* labels, one observation per attempt). Its _count counts events.',
    labelNames: DISPATCH_LABELS,
    buckets: [...LATENCY_BUCKETS_MS],
    registers: [registry],
  }));
}

/** A counter, shared by name within a registry; `bind(labels)` gives a child cheap enough for once per event. */
export function sharedCounter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): BufferedCounter<L> {
  return shared(registry, name, () => new BufferedCounter({ name, help, labelNames, registers: [registry] }));
}

/** A gauge, shared by name within a registry. */
export function sharedGauge<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Gauge<L> {
  return shared(registry, name, () => new Gauge({ name, help, labelNames, registers: [registry] }));
}

/**
 * A gauge whose values are read at scrape time by `collect` (which sets them). A second one of
 * the same name replaces the first: the newest reader of a registry wins.
 */
export function collectedGauge<L extends string>(
  registry: Registry, name: string, help: string, labelNames: readonly L[], collect: (gauge: Gauge<L>) => void | Promise<void>,
): Gauge<L> {
  registry.removeSingleMetric(name);
  return new Gauge({ name, help, labelNames, registers: [registry], collect() { return collect(this); } });
}

/** Kafka client errors (kafkajs's error-level reports and failed requests), by the process part that hit them. */
export function kafkaClientErrors(registry: Registry): BufferedCounter<'operation'> {
  return sharedCounter(registry, 'kafka_broker_kafka_client_errors_total', 'Errors the Kafka client reported, by operation (produce, consume, admin, client).', ['operation']);
}

/** The contract generation a component applied, when, and how long applying it took. */
export function contractMetrics(registry: Registry): { generation: Gauge<'component'>; appliedAt: Gauge<'component'>; applyDuration: Histogram<'component'> } {
  const applyName = 'kafka_broker_contract_apply_duration_seconds';
  return {
    applyDuration: shared(registry, applyName, () => new Histogram({
      name: applyName, help: 'Time to apply a contract generation (dispatcher: start and stop its egresses; controller: a reconcile pass that published one).',
      labelNames: ['component'], buckets: [...DURATION_BUCKETS_SECONDS], registers: [registry],
    })),
    generation: sharedGauge(registry, 'kafka_broker_contract_generation', 'The data-plane contract generation in force, by component.', ['component']),
    appliedAt: sharedGauge(registry, 'kafka_broker_contract_applied_timestamp_seconds', 'When the component applied (or, for the controller, published) its current contract generation, seconds since the epoch.', ['component']),
  };
}

/** Records that a component now runs contract generation `generation` (applied in `seconds`, when known). */
export function contractApplied(registry: Registry, component: string, generation: number, seconds?: number, now = Date.now()): void {
  const { generation: g, appliedAt, applyDuration } = contractMetrics(registry);
  g.labels(component).set(generation);
  appliedAt.labels(component).set(now / 1000);
  if (seconds !== undefined) applyDuration.labels(component).observe(seconds);
}

/**
 * Folds event types into a bounded set of label values: the first `max` distinct types seen
 * keep their name, every later one (and any longer than `maxLength`) is `other`. Types come
 * from producers, so without the bound one producer could make every series a new one.
 */
export class EventTypeFold {
  static readonly OTHER = 'other';
  private readonly kept = new Set<string>();

  constructor(
    private readonly max: number,
    private readonly maxLength = 128,
  ) {}

  label(type: unknown): string {
    if (typeof type !== 'string' || type === '') return '';
    if (this.kept.has(type)) return type;
    if (this.kept.size >= this.max || type.length > this.maxLength) return EventTypeFold.OTHER;
    this.kept.add(type);
    return type;
  }

  get size(): number {
    return this.kept.size;
  }
}
