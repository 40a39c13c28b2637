import { collectedGauge, contractApplied, DURATION_BUCKETS_SECONDS, sharedCounter, type Registry } from '../core/metrics.js';
import { Histogram } from 'prom-client';

/**
 * The controller's metrics (docs/metrics.md): reconcile passes by result and how long they
 * take, the contract generation it published, and its resources by kind and Ready status
 * (read at scrape time).
 */

/** How a pass ended: everything done, something left to retry (Kafka away, a topic not ready), or a bug. */
export type PassResult = 'ok' | 'retry' | 'error';

export class ControllerMetrics {
  private readonly passes;
  private readonly duration;

  constructor(private readonly registry: Registry) {
    this.passes = sharedCounter(registry, 'kafka_broker_reconcile_passes_total', 'Reconcile passes, by result: ok, retry (left work undone; retried with backoff), error (failed unexpectedly).', ['result']);
    const name = 'kafka_broker_reconcile_duration_seconds';
    registry.removeSingleMetric(name);
    this.duration = new Histogram({ name, help: 'Time a reconcile pass took.', buckets: [...DURATION_BUCKETS_SECONDS], registers: [registry] });
  }

  pass(result: PassResult, seconds: number): void {
    this.passes.labels(result).inc();
    this.duration.observe(seconds);
  }

  published(generation: number, seconds: number): void {
    contractApplied(this.registry, 'controller', generation, seconds);
  }

  /** `kafka_broker_resources{kind, ready}`: how many objects of each kind are Ready (True, False, Unknown). */
  watchResources(objects: () => readonly { readonly kind: string; readonly status?: { readonly conditions?: readonly { readonly type: string; readonly status: string }[] } }[]): void {
    collectedGauge(this.registry, 'kafka_broker_resources', 'Resources the controller handles, by kind and the status of their Ready condition.', ['kind', 'ready'], (gauge) => {
      gauge.reset();
      const counts = new Map<string, { kind: string; ready: string; n: number }>();
      for (const o of objects()) {
        const ready = o.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? 'Unknown';
        const key = `${o.kind}\u0000${ready}`;
        const entry = counts.get(key) ?? { kind: o.kind, ready, n: 0 };
        entry.n++;
        counts.set(key, entry);
      }
      for (const { kind, ready, n } of counts.values()) gauge.labels(kind, ready).set(n);
    });
  }
}
