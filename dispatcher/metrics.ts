import type { Egress } from '../core/contract/types.js';
import type { EgressLag, LagReader } from '../core/event-log/lag.js';
import { collectedGauge, dispatchLatency, sharedCounter, type Registry } from '../core/metrics.js';
import type { AttemptResult, HttpRequest, Sender } from './delivery.js';
import type { DoneOutcome, ReplyOutcome } from './dispatch.js';

/**
 * The dispatcher's metrics (names in docs/metrics.md). Counting costs one `inc()` on a label
 * child bound once per egress (when its consumer is created, i.e. once per contract generation
 * that adds or restarts it), never a label lookup per event; the child only adds to a number
 * the counter takes at scrape time (core/metrics-bound.ts). Gauges — held and in-flight events,
 * consumer lag — are read at scrape time.
 */

const TRIGGER_LABELS = ['kn_trigger_namespace', 'kn_trigger_name'] as const;
type TriggerLabel = (typeof TRIGGER_LABELS)[number];
type Child = { inc(value?: number): void };
type Observer = { observe(value: number): void };

const OUTCOMES = ['delivered', 'filtered', 'dead_lettered', 'undecodable'] as const;
const REPLIES = ['appended', 'posted', 'discarded', 'ttl_exhausted'] as const;

export class DispatcherMetrics {
  private readonly events;
  private readonly quarantined;
  private readonly retries;
  private readonly heldRounds;
  private readonly replies;
  private readonly offsetResets;
  private readonly recordsSkipped;

  constructor(readonly registry: Registry) {
    this.events = sharedCounter(registry, 'kafka_broker_dispatch_events_total', 'Events an egress finished, by outcome: delivered (2xx), filtered (did not match), dead_lettered, undecodable (not a CloudEvent).', [...TRIGGER_LABELS, 'outcome']);
    this.quarantined = sharedCounter(registry, 'kafka_broker_dispatch_quarantined_total', 'Undecodable records written to the quarantine topic (no dead-letter sink took them).', TRIGGER_LABELS);
    this.retries = sharedCounter(registry, 'kafka_broker_dispatch_retries_total', 'Delivery attempts that failed and were retried (subscriber, reply URL or dead-letter sink).', TRIGGER_LABELS);
    this.heldRounds = sharedCounter(registry, 'kafka_broker_dispatch_held_rounds_total', 'Rounds an event was held because neither the subscriber nor the dead-letter sink took it (retried, never dropped).', TRIGGER_LABELS);
    this.replies = sharedCounter(registry, 'kafka_broker_dispatch_replies_total', 'Replies from subscribers, by what became of them: appended (to the broker), posted (reply URL), discarded, ttl_exhausted.', [...TRIGGER_LABELS, 'outcome']);
    this.offsetResets = sharedCounter(registry, 'kafka_broker_consumer_offset_resets_total', 'Times a partition position was gone from the log (retention) and consumption jumped to the earliest record left.', TRIGGER_LABELS);
    this.recordsSkipped = sharedCounter(registry, 'kafka_broker_consumer_records_skipped_total', 'Records skipped by those jumps: never delivered to this egress.', TRIGGER_LABELS);
  }

  /** The label children of one egress, resolved once. */
  forEgress(egress: Egress): EgressMetrics {
    const namespace = egress.reference.namespace;
    const name = egress.reference.name;
    const labels: Record<TriggerLabel, string> = { kn_trigger_namespace: namespace, kn_trigger_name: name };
    const outcome = new Map<DoneOutcome, Child>();
    const ofOutcome: Record<(typeof OUTCOMES)[number], DoneOutcome> = { delivered: 'delivered', filtered: 'filtered', dead_lettered: 'dead-lettered', undecodable: 'undecodable' };
    for (const label of OUTCOMES) outcome.set(ofOutcome[label], this.events.bind({ ...labels, outcome: label }));
    const reply = new Map<ReplyOutcome, Child>();
    for (const label of REPLIES) reply.set(label === 'ttl_exhausted' ? 'ttl-exhausted' : label, this.replies.bind({ ...labels, outcome: label }));
    return new EgressMetrics(
      outcome, reply, this.quarantined.bind(labels), this.retries.bind(labels), this.heldRounds.bind(labels),
      this.offsetResets.bind(labels), this.recordsSkipped.bind(labels), new AttemptLatency(this.registry, namespace, name),
    );
  }

  /**
   * Scrape-time gauges: held and in-flight events per egress, and consumer lag per egress and
   * partition (records, and age of the oldest record not finished).
   */
  watch(egresses: () => readonly { readonly egress: Egress; readonly held: number; readonly inFlight: number }[], lag: LagReader | undefined): void {
    const labelsOf = (egress: Egress): Record<TriggerLabel, string> => ({ kn_trigger_namespace: egress.reference.namespace, kn_trigger_name: egress.reference.name });
    collectedGauge(this.registry, 'kafka_broker_dispatch_held_events', 'Events held now: neither the subscriber nor the dead-letter sink takes them; retried, never dropped.', TRIGGER_LABELS, (gauge) => {
      gauge.reset();
      for (const e of egresses()) gauge.labels(labelsOf(e.egress)).set(e.held);
    });
    collectedGauge(this.registry, 'kafka_broker_dispatch_in_flight_events', 'Records handed out by the log and not finished (running, queued, waiting for a retry, or held).', TRIGGER_LABELS, (gauge) => {
      gauge.reset();
      for (const e of egresses()) gauge.labels(labelsOf(e.egress)).set(e.inFlight);
    });
    if (lag === undefined || !lag.supported) return;
    const lagLabels = [...TRIGGER_LABELS, 'consumer_group', 'topic', 'partition'] as const;
    type LagLabel = (typeof lagLabels)[number];
    const each = (lags: readonly EgressLag[], set: (labels: Record<LagLabel, string>, p: EgressLag['partitions'][number]) => void): void => {
      for (const l of lags) {
        for (const p of l.partitions) {
          set({ kn_trigger_namespace: l.namespace, kn_trigger_name: l.name, consumer_group: l.consumerGroup, topic: p.topic, partition: String(p.partition) }, p);
        }
      }
    };
    collectedGauge(this.registry, 'kafka_broker_consumer_lag_records', "Records of the partition past the consumer group's committed offset (end offset - committed offset).", lagLabels, async (gauge) => {
      const lags = await lag.read();
      gauge.reset();
      each(lags, (labels, p) => gauge.labels(labels).set(p.records));
    });
    collectedGauge(this.registry, 'kafka_broker_consumer_lag_oldest_age_seconds', 'Age of the oldest record of the partition the consumer group has not finished (0 when none; absent when unknown).', lagLabels, async (gauge) => {
      const lags = await lag.read();
      gauge.reset();
      each(lags, (labels, p) => {
        if (p.oldestAgeSeconds !== undefined) gauge.labels(labels).set(p.oldestAgeSeconds);
      });
    });
  }
}

export class EgressMetrics {
  constructor(
    private readonly outcomes: ReadonlyMap<DoneOutcome, Child>,
    private readonly replyOutcomes: ReadonlyMap<ReplyOutcome, Child>,
    readonly quarantined: Child,
    readonly retries: Child,
    readonly heldRounds: Child,
    readonly offsetResets: Child,
    readonly recordsSkipped: Child,
    readonly attempts: AttemptLatency,
  ) {}

  done(outcome: DoneOutcome): void {
    this.outcomes.get(outcome)?.inc();
  }

  reply(outcome: ReplyOutcome): void {
    this.replyOutcomes.get(outcome)?.inc();
  }
}

/**
 * `kn_eventing_dispatch_latency_ms` for one egress: one observation per attempt at the
 * subscriber, labelled with the status code (or `error_type` timeout/network). Series are bound
 * per status on first use, keyed by the number (no string made per attempt): a handful per egress.
 */
export class AttemptLatency {
  private readonly byStatus = new Map<number, Observer>();
  private readonly byError = new Map<'timeout' | 'network', Observer>();
  private readonly histogram;

  constructor(registry: Registry, private readonly namespace: string, private readonly name: string) {
    this.histogram = dispatchLatency(registry);
  }

  record(result: AttemptResult, ms: number): void {
    switch (result.kind) {
      case 'response': {
        let series = this.byStatus.get(result.status);
        if (series === undefined) {
          series = this.histogram.child({ kn_trigger_namespace: this.namespace, kn_trigger_name: this.name, http_response_status_code: String(result.status) });
          this.byStatus.set(result.status, series);
        }
        series.observe(ms);
        return;
      }
      case 'timeout':
      case 'network': {
        let series = this.byError.get(result.kind);
        if (series === undefined) {
          series = this.histogram.child({ kn_trigger_namespace: this.namespace, kn_trigger_name: this.name, error_type: result.kind });
          this.byError.set(result.kind, series);
        }
        series.observe(ms);
        return;
      }
      case 'aborted':
        return; // our own shutdown, not the subscriber's answer
      default: {
        const never: never = result;
        return never;
      }
    }
  }
}

/**
 * A Sender that times each attempt at the egress's subscriber (`isSubscriber`) into its latency
 * histogram; attempts at dead-letter sinks and reply URLs pass through untimed. A `then` on the
 * attempt, not an async wrapper: no second async frame per delivery.
 */
export function timedSender(inner: Sender, isSubscriber: (url: string) => boolean, latency: AttemptLatency): Sender {
  return {
    send: (message: HttpRequest, timeoutMs: number, signal?: AbortSignal): Promise<AttemptResult> => {
      if (!isSubscriber(message.url)) return inner.send(message, timeoutMs, signal);
      const started = performance.now();
      return inner.send(message, timeoutMs, signal).then((result) => {
        latency.record(result, performance.now() - started);
        return result;
      });
    },
  };
}
