import type { Reference } from '../contract/types.js';
import type { EventLog, PartitionLag } from './port.js';

/**
 * Consumer lag per egress (a Trigger or a Subscription) and partition, read lazily — at scrape
 * time or when `get triggers` asks — and cached for `ttlMs`, so that a busy scraper costs the log
 * at most one round of offset requests per period, never anything per event.
 *
 *   records  end offset − committed offset (what the group has not finished, by Kafka's count)
 *   age      now − append time of the oldest record not finished: the oldest record the
 *            dispatcher holds (`pending`), else what the log knows of the record at the
 *            committed offset (memory); unknown otherwise
 */

export interface LagSource {
  readonly reference: Reference;
  readonly consumerGroup: string;
  readonly topics: readonly string[];
  /** Append time of the oldest record handed out and not finished, per `topic\0partition`. */
  readonly pending?: ReadonlyMap<string, number>;
}

export interface PartitionLagView {
  readonly topic: string;
  readonly partition: number;
  readonly records: number;
  /** Seconds; undefined when unknown. 0 when nothing is behind. */
  readonly oldestAgeSeconds: number | undefined;
}

export interface EgressLag {
  readonly namespace: string;
  readonly name: string;
  readonly kind: string;
  readonly consumerGroup: string;
  readonly records: number;
  readonly oldestAgeSeconds: number | undefined;
  readonly partitions: readonly PartitionLagView[];
}

export const partitionKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/** One egress's lag from the log's offsets and the dispatcher's pending records (pure). */
export function egressLag(source: LagSource, offsets: readonly PartitionLag[], now: number): EgressLag {
  const partitions = offsets.map((p): PartitionLagView => {
    if (p.records === 0) return { topic: p.topic, partition: p.partition, records: 0, oldestAgeSeconds: 0 };
    const oldest = source.pending?.get(partitionKey(p.topic, p.partition)) ?? p.oldestTimestamp;
    return { topic: p.topic, partition: p.partition, records: p.records, oldestAgeSeconds: oldest === undefined ? undefined : Math.max(0, (now - oldest) / 1000) };
  });
  const ages = partitions.map((p) => p.oldestAgeSeconds);
  return {
    namespace: source.reference.namespace,
    name: source.reference.name,
    kind: source.reference.kind,
    consumerGroup: source.consumerGroup,
    records: partitions.reduce((n, p) => n + p.records, 0),
    oldestAgeSeconds: ages.includes(undefined) ? undefined : Math.max(0, ...(ages as number[])),
    partitions,
  };
}

export interface LagReaderOptions {
  readonly ttlMs?: number;
  /** How long one read may take before the last known figures are served instead. */
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

export class LagReader {
  private cached: { at: number; lags: readonly EgressLag[] } | undefined;
  private reading: Promise<readonly EgressLag[]> | undefined;
  private readonly ttlMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(
    private readonly log: Pick<EventLog, 'groupLag'>,
    private readonly sources: () => readonly LagSource[],
    options: LagReaderOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 2000;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.now = options.now ?? Date.now;
  }

  /** Whether the log can tell lag at all. */
  get supported(): boolean {
    return this.log.groupLag !== undefined;
  }

  /**
   * The lag of every source, at most `ttlMs` old. Concurrent callers share one read; a source
   * whose offsets cannot be read (the log is away) is left out rather than failing the rest.
   */
  async read(): Promise<readonly EgressLag[]> {
    const cached = this.cached;
    if (cached !== undefined && this.now() - cached.at < this.ttlMs) return cached.lags;
    this.reading ??= this.readNow().finally(() => {
      this.reading = undefined;
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<readonly EgressLag[]>((resolve) => {
      timer = setTimeout(() => resolve(this.cached?.lags ?? []), this.timeoutMs);
      timer.unref();
    });
    try {
      return await Promise.race([this.reading, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async readNow(): Promise<readonly EgressLag[]> {
    const groupLag = this.log.groupLag?.bind(this.log);
    if (groupLag === undefined) return [];
    const sources = this.sources();
    const read = await Promise.all(sources.map(async (source) => {
      try {
        return egressLag(source, await groupLag(source.consumerGroup, source.topics), this.now());
      } catch {
        return undefined;
      }
    }));
    const lags = read.filter((l): l is EgressLag => l !== undefined);
    this.cached = { at: this.now(), lags };
    return lags;
  }
}
