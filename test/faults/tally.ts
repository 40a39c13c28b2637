/**
 * The fault suite's accounting, pure: from what the producers were acknowledged and what the
 * subscribers received, the figures of one scenario. "Lost" is the promise being broken: an event
 * acknowledged (202) and never delivered to a trigger that should have had it.
 *
 *   producers ──acked ids──▶ tally ◀──deliveries (trigger, id, at)── subscribers
 *                              │
 *                              ▼ acknowledged, delivered, lost, duplicates, latency, longest gap
 */

export interface Acked {
  readonly id: string;
  /** When the producer first tried to send it (latency is counted from here). */
  readonly firstAttemptAt: number;
  /** True when the producer sent it more than once after an ambiguous failure: its copies are the producer's. */
  readonly retried: boolean;
}

export interface Delivery {
  readonly trigger: string;
  readonly id: string;
  readonly at: number;
}

export interface Tally {
  readonly acknowledged: number;
  /** Pairs (trigger, acknowledged id) delivered at least once. */
  readonly delivered: number;
  /** Pairs (trigger, acknowledged id) never delivered: must be 0. */
  readonly lost: number;
  /** A few of the lost pairs, `trigger/id`, for the report. */
  readonly lostSample: readonly string[];
  /** Deliveries beyond the first of a pair, for events the producer sent once. */
  readonly duplicates: number;
  /** duplicates / delivered. */
  readonly duplicateRatio: number;
  /** Deliveries beyond the first of events the producer itself sent twice (its retries, not the broker's). */
  readonly producerDuplicates: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  /** Longest time between two consecutive deliveries to one of `gapTriggers`, while deliveries flowed. */
  readonly longestGapMs: number;
}

/**
 * @param triggers the triggers that must receive every acknowledged event
 * @param gapTriggers the triggers whose delivery gaps are reported (default: `triggers`)
 */
export function tally(acked: readonly Acked[], deliveries: readonly Delivery[], triggers: readonly string[], gapTriggers: readonly string[] = triggers): Tally {
  const byId = new Map(acked.map((a) => [a.id, a]));
  const checked = new Set(triggers);
  // trigger → id → deliveries of that pair (sorted by time below)
  const pairs = new Map<string, Map<string, number[]>>();
  for (const trigger of triggers) pairs.set(trigger, new Map());
  for (const d of deliveries) {
    if (!checked.has(d.trigger) || !byId.has(d.id)) continue;
    const ids = pairs.get(d.trigger)!;
    const times = ids.get(d.id);
    if (times === undefined) ids.set(d.id, [d.at]);
    else times.push(d.at);
  }

  let delivered = 0;
  let duplicates = 0;
  let producerDuplicates = 0;
  const latencies: number[] = [];
  const lostSample: string[] = [];
  let lost = 0;
  for (const trigger of triggers) {
    const ids = pairs.get(trigger)!;
    for (const a of acked) {
      const times = ids.get(a.id);
      if (times === undefined) {
        lost++;
        if (lostSample.length < 5) lostSample.push(`${trigger}/${a.id}`);
        continue;
      }
      delivered++;
      if (a.retried) producerDuplicates += times.length - 1;
      else duplicates += times.length - 1;
      latencies.push(Math.max(0, Math.min(...times) - a.firstAttemptAt));
    }
  }

  let longestGapMs = 0;
  for (const trigger of gapTriggers) {
    const times = deliveries.filter((d) => d.trigger === trigger && byId.has(d.id)).map((d) => d.at).sort((x, y) => x - y);
    for (let i = 1; i < times.length; i++) longestGapMs = Math.max(longestGapMs, times[i]! - times[i - 1]!);
  }

  latencies.sort((x, y) => x - y);
  return {
    acknowledged: acked.length,
    delivered,
    lost,
    lostSample,
    duplicates,
    duplicateRatio: delivered === 0 ? 0 : duplicates / delivered,
    producerDuplicates,
    latencyP50Ms: percentile(latencies, 0.5),
    latencyP99Ms: percentile(latencies, 0.99),
    longestGapMs,
  };
}

/** Nearest-rank percentile of sorted values (0 for none). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1]!;
}

export interface ReportRow {
  readonly scenario: string;
  readonly tally: Tally;
  /** Peak resident memory per process role (e.g. `dispatcher`), in bytes. */
  readonly peakRss: ReadonlyMap<string, number>;
  readonly seconds: number;
}

/** The suite's table: one line per scenario, then per scenario its peak RSS and any lost events. */
export function formatReport(rows: readonly ReportRow[]): string {
  const header = ['scenario', 'acked', 'delivered', 'LOST', 'dups', 'dup %', 'prod dups', 'p50 ms', 'p99 ms', 'max gap s', 'time s'];
  const lines = rows.map((r) => [
    r.scenario,
    String(r.tally.acknowledged),
    String(r.tally.delivered),
    String(r.tally.lost),
    String(r.tally.duplicates),
    (r.tally.duplicateRatio * 100).toFixed(2),
    String(r.tally.producerDuplicates),
    String(Math.round(r.tally.latencyP50Ms)),
    String(Math.round(r.tally.latencyP99Ms)),
    (r.tally.longestGapMs / 1000).toFixed(1),
    r.seconds.toFixed(0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [row(header), ...lines.map(row)];
  out.push('', 'peak RSS (MB):');
  for (const r of rows) {
    const rss = [...r.peakRss].map(([role, bytes]) => `${role} ${(bytes / 1024 / 1024).toFixed(0)}`).join(', ');
    out.push(`  ${r.scenario}: ${rss || '-'}`);
  }
  for (const r of rows) if (r.tally.lost > 0) out.push(`LOST in ${r.scenario}: ${r.tally.lost}, e.g. ${r.tally.lostSample.join(', ')}`);
  return out.join('\n');
}
