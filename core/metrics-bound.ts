import { Counter, Histogram, type CounterConfiguration, type HistogramConfiguration, type LabelValues, type MetricObjectWithValues, type MetricValueWithName } from 'prom-client';

/**
 * Metrics whose label children cost a few additions per observation. A prom-client child
 * rebuilds its label-set key (a string concatenation), validates the labels and looks the key
 * up in an object on every `observe()` or `inc()`; on the data plane that is once per event.
 * Here a child is resolved once (`labels(...)`, `bind(...)`) and then holds its own numbers.
 *
 *   BoundHistogram  a prom-client Histogram keeping each series' buckets, sum and count in the
 *                   child itself; `get()` reads them out in prom-client's shape, so the registry,
 *                   the text format and AggregatorRegistry see an ordinary histogram.
 *   BufferedCounter a prom-client Counter whose bound children add to a pending number, handed
 *                   to the counter with one `inc(n)` per child when the counter is read (collect).
 *
 * Children are kept per label set (a Map keyed by the values in label-name order), so binding
 * the same labels again returns the same child and their number stays that of the label sets.
 */

type Labels<L extends string> = Partial<Record<L, string | number>>;
type SeriesLabels = Readonly<Record<string, string | number>>;

/**
 * The key of a label set: its values in label-name order, as text (202 and '202' are one value,
 * as in the exposition), in JSON, so that no two sets share a key.
 */
function keyOf<L extends string>(labelNames: readonly L[], labels: Labels<L>): string {
  return JSON.stringify(labelNames.map((name) => {
    const value = labels[name];
    return value === undefined ? null : String(value);
  }));
}

/** The labels as given, without undefined values, after checking every name is one of ours. */
function checked<L extends string>(metric: string, labelNames: readonly L[], labels: Labels<L>): SeriesLabels {
  const copy: Record<string, string | number> = {};
  for (const name of Object.keys(labels) as L[]) {
    if (!labelNames.includes(name)) throw new Error(`label "${name}" is not one of ${metric}'s: ${labelNames.join(', ')}`);
    const value = labels[name];
    if (value !== undefined) copy[name] = value;
  }
  return copy;
}

/** `labels('a', 'b')` or `labels({ x: 'a' })`, as prom-client takes them. */
function labelsOf<L extends string>(labelNames: readonly L[], args: readonly unknown[]): Labels<L> {
  if (args.length === 1 && typeof args[0] === 'object' && args[0] !== null) return args[0] as Labels<L>;
  const labels: Labels<L> = {};
  args.forEach((value, i) => {
    const name = labelNames[i];
    if (name !== undefined) labels[name] = value as string | number;
  });
  return labels;
}

function finite(value: number): number {
  if (!Number.isFinite(value)) throw new TypeError(`value is not a finite number: ${String(value)}`);
  return value;
}

/** One series of a BoundHistogram: counts per finite bucket (not cumulative), sum and count. */
export class HistogramSeries {
  readonly buckets: Float64Array;
  sum = 0;
  count = 0;
  /** Listed with nothing observed (`zero()`); otherwise a series is listed from its first observation, as in prom-client. */
  zeroed = false;

  constructor(
    readonly labels: SeriesLabels,
    private readonly bounds: readonly number[],
  ) {
    this.buckets = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    finite(value);
    const bounds = this.bounds;
    // A dozen buckets: a linear scan beats a binary search, and latencies sit in the first few.
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    if (i < bounds.length) this.buckets[i]!++;
    this.sum += value;
    this.count++;
  }

  startTimer(): (labels?: unknown) => number {
    const started = process.hrtime.bigint();
    return () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.observe(seconds);
      return seconds;
    };
  }
}

export class BoundHistogram<L extends string = string> extends Histogram<L> {
  private readonly series = new Map<string, HistogramSeries>();
  private readonly bounds: readonly number[];
  private readonly names: readonly L[];
  private readonly metricName: string;
  private readonly helpText: string;

  constructor(config: HistogramConfiguration<L> & { readonly buckets: readonly number[] }) {
    super(config);
    this.metricName = config.name;
    this.helpText = config.help;
    this.names = [...(config.labelNames ?? [])];
    this.bounds = [...config.buckets].sort((a, b) => a - b);
    // prom-client sets `observe` on the instance in its constructor: replace it there.
    this.observe = ((labelsOrValue: LabelValues<L> | number, value?: number): void => {
      if (typeof labelsOrValue === 'number') this.child({}).observe(labelsOrValue);
      else this.child(labelsOrValue).observe(value ?? NaN);
    }) as Histogram<L>['observe'];
  }

  /** The series of these labels, created on first use: bind once, observe many times. */
  child(labels: Labels<L>): HistogramSeries {
    const key = keyOf(this.names, labels);
    let series = this.series.get(key);
    if (series === undefined) {
      series = new HistogramSeries(checked(this.metricName, this.names, labels), this.bounds);
      this.series.set(key, series);
    }
    return series;
  }

  override labels(...args: unknown[]): Histogram.Internal<L> {
    return this.child(labelsOf(this.names, args));
  }

  override startTimer(labels?: LabelValues<L>): (labels?: LabelValues<L>) => number {
    const started = process.hrtime.bigint();
    return (end?: LabelValues<L>) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.child({ ...labels, ...end }).observe(seconds);
      return seconds;
    };
  }

  override zero(labels: LabelValues<L>): void {
    const series = this.child(labels);
    series.buckets.fill(0);
    series.sum = 0;
    series.count = 0;
    series.zeroed = true;
  }

  override remove(...args: unknown[]): void {
    this.series.delete(keyOf(this.names, labelsOf(this.names, args)));
  }

  override reset(): void {
    // prom-client's constructor calls reset() before this class's fields exist.
    (this.series as Map<string, HistogramSeries> | undefined)?.clear();
  }

  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<L>>> {
    const values = this.values(false);
    return { name: this.metricName, help: this.helpText, type: 'histogram', values, aggregator: 'sum' } as unknown as MetricObjectWithValues<MetricValueWithName<L>>;
  }

  /**
   * What the registry's text format reads when a metric has it (prom-client's own would read its
   * storage, not ours): the series labels apart from `le`, as prom-client gives them, so that the
   * text is the same byte for byte, default labels included.
   */
  getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<L>>> {
    const values = this.values(true);
    return Promise.resolve({ name: this.metricName, help: this.helpText, type: 'histogram', values, aggregator: 'sum' } as unknown as MetricObjectWithValues<MetricValueWithName<L>>);
  }

  /** prom-client's value fields: no exemplars (null on buckets, undefined on the rest). */
  private values(shared: boolean): MetricValueWithName<L>[] {
    const bucketName = `${this.metricName}_bucket`;
    const sumName = `${this.metricName}_sum`;
    const countName = `${this.metricName}_count`;
    const values: object[] = [];
    const value = (labels: object, own: SeriesLabels, v: number, metricName: string, exemplar: null | undefined): void => {
      values.push(shared ? { labels, sharedLabels: own, value: v, metricName, exemplar } : { labels: { ...labels, ...own }, value: v, metricName, exemplar });
    };
    for (const series of this.series.values()) {
      if (series.count === 0 && !series.zeroed) continue;
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += series.buckets[i]!;
        value({ le: this.bounds[i]! }, series.labels, cumulative, bucketName, null);
      }
      value({ le: '+Inf' }, series.labels, series.count, bucketName, null);
      value({}, series.labels, series.sum, sumName, undefined);
      value({}, series.labels, series.count, countName, undefined);
    }
    return values as MetricValueWithName<L>[];
  }
}

/** A bound counter child: `inc()` adds to a number the counter takes when it is read. */
export class PendingIncrements {
  pending = 0;

  constructor(readonly labels: SeriesLabels) {}

  inc(value = 1): void {
    if (value < 0 || !Number.isFinite(value)) throw new TypeError(`a counter only goes up by a finite amount, not ${String(value)}`);
    this.pending += value;
  }
}

export class BufferedCounter<L extends string = string> extends Counter<L> {
  private readonly bound = new Map<string, PendingIncrements>();
  private readonly names: readonly L[];
  private readonly metricName: string;

  constructor(config: CounterConfiguration<L>) {
    const flush = (counter: BufferedCounter<L>): void => counter.flush();
    super({ ...config, collect() { flush(this as unknown as BufferedCounter<L>); } });
    this.metricName = config.name;
    this.names = [...(config.labelNames ?? [])];
  }

  /** The child of these labels: its `inc()` is an addition, taken into the counter when read. */
  bind(labels: Labels<L>): PendingIncrements {
    const key = keyOf(this.names, labels);
    let child = this.bound.get(key);
    if (child === undefined) {
      child = new PendingIncrements(checked(this.metricName, this.names, labels));
      this.bound.set(key, child);
    }
    return child;
  }

  private flush(): void {
    for (const child of this.bound.values()) {
      if (child.pending === 0) continue;
      const value = child.pending;
      child.pending = 0;
      this.inc(child.labels as LabelValues<L>, value);
    }
  }
}
