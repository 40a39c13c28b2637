import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Toxiproxy } from '../../scripts/toxiproxy/toxiproxy.js';
import { Cluster, until } from './cluster.js';
import { produce, type Produced, type ProduceOptions } from './producers.js';
import { startSubscriber, type Subscriber } from './subscribers.js';
import { tally, type Delivery, type ReportRow } from './tally.js';

/**
 * What a scenario runs on: Kafka (and, when the suite owns it, a way to stop and restart it and
 * the fault-injecting proxy in front of it), and a folder for its files.
 */
export interface Infra {
  /** Bootstrap servers for the broker's processes (the proxy's address when there is one). */
  readonly kafka: string;
  /** Stops and restarts Kafka on the same data folder and address; only when the suite started Kafka. */
  readonly kafkaControl?: { stop(): Promise<void>; start(): Promise<void> };
  /** Toxiproxy and the name of the proxy every broker process reaches Kafka through. */
  readonly proxy?: { readonly toxiproxy: Toxiproxy; readonly name: string };
  readonly workDir: string;
  readonly log: (line: string) => void;
}

export interface TriggerSpec {
  readonly name: string;
  /** Must receive every acknowledged event (default true). */
  readonly checked?: boolean;
  readonly retry?: number;
  /** Per-attempt timeout, ISO 8601 (default PT2S). */
  readonly timeout?: string;
  /** A subscriber (started like the others) used as dead-letter sink. */
  readonly deadLetterSink?: string;
}

export interface WorldOptions {
  readonly triggers: readonly TriggerSpec[];
  /** Subscribers that are no trigger's own (dead-letter sinks, churned triggers). */
  readonly extraSubscribers?: readonly string[];
  /** Of those, the ones that must receive every acknowledged event too (a dead-letter sink). */
  readonly checkedSinks?: readonly string[];
  readonly ingresses?: number;
  readonly dispatchers?: number;
  readonly env?: Readonly<Record<string, string>>;
}

/** Settings of every process of the suite: shorter than production where waiting proves nothing. */
const SUITE_ENV: Readonly<Record<string, string>> = {
  // An event that can be neither delivered nor dead-lettered is retried with backoff up to this.
  DISPATCHER_MAX_STALL_BACKOFF_MS: '5000',
  DISPATCHER_SHUTDOWN_DEADLINE_MS: '10000',
  CONTROLLER_TOPIC_PARTITIONS: '6',
};

/** One scenario's broker: its processes, its subscribers, what they received. */
export class World {
  readonly deliveries: Delivery[] = [];
  readonly subscribers = new Map<string, Subscriber>();
  readonly namespace: string;
  cluster!: Cluster;
  readonly started = Date.now();
  private produced: Produced | undefined;

  private constructor(readonly infra: Infra, readonly scenario: string, readonly dir: string, private readonly options: WorldOptions) {
    this.namespace = `faults-${scenario}-${randomBytes(3).toString('hex')}`;
  }

  static async create(infra: Infra, scenario: string, options: WorldOptions): Promise<World> {
    await mkdir(infra.workDir, { recursive: true });
    const dir = await mkdtemp(path.join(infra.workDir, `${scenario}-`));
    const world = new World(infra, scenario, dir, options);
    await mkdir(world.manifests, { recursive: true });
    for (const name of [...options.triggers.map((t) => t.name), ...(options.extraSubscribers ?? [])]) {
      world.subscribers.set(name, await startSubscriber(name, world.deliveries));
    }
    await writeFile(path.join(world.manifests, 'broker.yaml'), world.brokerYaml());
    for (const trigger of options.triggers) await world.writeTrigger(trigger);
    try {
      world.cluster = await Cluster.start({
        kafka: infra.kafka,
        manifests: world.manifests,
        logDir: dir,
        ingresses: options.ingresses ?? 2,
        dispatchers: options.dispatchers ?? 2,
        env: { ...SUITE_ENV, ...options.env },
      });
      await Promise.all(options.triggers.map((t) => world.waitReady('triggers', t.name)));
      await world.waitIngressesServe();
    } catch (error) {
      await world.close(false);
      throw error;
    }
    infra.log(`${scenario}: ${options.triggers.length} triggers ready in ${((Date.now() - world.started) / 1000).toFixed(1)} s (files in ${dir})`);
    return world;
  }

  get manifests(): string {
    return path.join(this.dir, 'manifests');
  }

  subscriber(name: string): Subscriber {
    const found = this.subscribers.get(name);
    if (found === undefined) throw new Error(`no subscriber ${name}`);
    return found;
  }

  /** Sends `count` events at `perSecond` through every ingress; resolves when each is acknowledged or given up. */
  async produce(options: Pick<ProduceOptions, 'count' | 'perSecond'> & Partial<ProduceOptions>): Promise<Produced> {
    this.produced = await produce({ ingresses: this.cluster.ingressUrls, path: `/${this.namespace}/b`, idPrefix: this.scenario, ...options });
    const { givenUp, rejected, notFound } = this.produced;
    if (givenUp.length > 0) this.infra.log(`${this.scenario}: producers gave up on ${givenUp.length} events (never acknowledged)`);
    if (rejected.length > 0) this.infra.log(`${this.scenario}: ${rejected.length} events answered 4xx, e.g. ${rejected[0]}`);
    if (notFound > 0) this.infra.log(`${this.scenario}: an ingress answered 404 (broker unknown) ${notFound} times while the broker existed`);
    return this.produced;
  }

  /** Waits until every checked trigger has every acknowledged event (or `timeoutMs`), then a little more for late copies. */
  async drain(timeoutMs: number): Promise<void> {
    const acked = this.produced?.acked ?? [];
    const checked = this.checkedTriggers();
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const seen = new Map(checked.map((t) => [t, new Set<string>()]));
      for (const d of this.deliveries) seen.get(d.trigger)?.add(d.id);
      if ([...seen.values()].every((ids) => acked.every((a) => ids.has(a.id)))) break;
      await sleep(500);
    }
    await sleep(2000);
  }

  /** The scenario's row of the report. */
  report(gapTriggers?: readonly string[]): ReportRow {
    const checked = this.checkedTriggers();
    return {
      scenario: this.scenario,
      tally: tally(this.produced?.acked ?? [], this.deliveries, checked, gapTriggers ?? checked),
      peakRss: this.cluster.peakRss(),
      seconds: (Date.now() - this.started) / 1000,
    };
  }

  /** Stops everything; the folder (logs, manifests) is kept when `keep`, for a failed scenario's reader. */
  async close(keep: boolean): Promise<void> {
    await this.cluster?.stop();
    for (const s of this.subscribers.values()) await s.close();
    if (this.cluster?.crashes.length) this.infra.log(`${this.scenario}: processes that exited on their own: ${this.cluster.crashes.join('; ')}`);
    if (!keep) await rm(this.dir, { recursive: true, force: true });
  }

  async writeTrigger(trigger: TriggerSpec): Promise<void> {
    await writeFile(path.join(this.manifests, `trigger-${trigger.name}.yaml`), this.triggerYaml(trigger));
  }

  async removeTrigger(name: string): Promise<void> {
    await rm(path.join(this.manifests, `trigger-${name}.yaml`), { force: true });
  }

  /** Waits until the controller reports the object Ready (through its admin API). */
  async waitReady(plural: 'triggers' | 'brokers', name: string, timeoutMs = 60_000): Promise<void> {
    const url = `${this.cluster.adminUrl}/apis/eventing.knative.dev/v1/namespaces/${this.namespace}/${plural}/${name}`;
    await until(async () => {
      const response = await fetch(url).catch(() => undefined);
      if (response?.status !== 200) return false;
      const object = (await response.json()) as { status?: { conditions?: { type: string; status: string }[] } };
      return object.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
    }, timeoutMs, `${plural}/${name} Ready`);
  }

  /**
   * Waits until every ingress accepts an event for the broker (a probe, which the tally ignores):
   * an ingress listens before its contract has the broker, and a Service would not route to it
   * until then either.
   */
  async waitIngressesServe(timeoutMs = 60_000): Promise<void> {
    let probe = 0;
    for (const base of this.cluster.ingressUrls) {
      await until(async () => {
        const response = await fetch(`${base}/${this.namespace}/b`, {
          method: 'POST',
          headers: { 'ce-specversion': '1.0', 'ce-id': `probe-${probe++}`, 'ce-source': '/faults', 'ce-type': 'dev.faults.probe', 'content-type': 'application/json' },
          body: '{}',
        }).catch(() => undefined);
        return response?.status === 202;
      }, timeoutMs, `${base} to accept events for ${this.namespace}/b`);
    }
  }

  private checkedTriggers(): string[] {
    return [...this.options.triggers.filter((t) => t.checked !== false).map((t) => t.name), ...(this.options.checkedSinks ?? [])];
  }

  private brokerYaml(): string {
    return [
      'apiVersion: eventing.knative.dev/v1',
      'kind: Broker',
      'metadata:',
      '  name: b',
      `  namespace: ${this.namespace}`,
      '  annotations:',
      '    eventing.knative.dev/broker.class: Kafka',
      '',
    ].join('\n');
  }

  private triggerYaml(trigger: TriggerSpec): string {
    const subscriber = this.subscriber(trigger.name);
    const lines = [
      'apiVersion: eventing.knative.dev/v1',
      'kind: Trigger',
      'metadata:',
      `  name: ${trigger.name}`,
      `  namespace: ${this.namespace}`,
      'spec:',
      '  broker: b',
      '  subscriber:',
      `    uri: ${subscriber.url}`,
      '  delivery:',
      // Linear backoff, 0.2 s more each time: 30 retries span about 90 s, more than any fault here.
      `    retry: ${trigger.retry ?? 30}`,
      '    backoffPolicy: linear',
      '    backoffDelay: PT0.2S',
      `    timeout: ${trigger.timeout ?? 'PT2S'}`,
    ];
    if (trigger.deadLetterSink !== undefined) {
      lines.push('    deadLetterSink:', `      uri: ${this.subscriber(trigger.deadLetterSink).url}`);
    }
    return lines.join('\n') + '\n';
  }
}

/** Runs `body` on a new world and always closes it; the folder is kept when something was lost or failed. */
export async function inWorld(infra: Infra, scenario: string, options: WorldOptions, body: (world: World) => Promise<ReportRow>): Promise<ReportRow> {
  const world = await World.create(infra, scenario, options);
  let row: ReportRow | undefined;
  try {
    row = await body(world);
    return row;
  } finally {
    const keep = row === undefined || row.tally.lost > 0 || process.env['FAULTS_KEEP'] === '1';
    await world.close(keep);
    if (keep) infra.log(`${scenario}: logs and manifests kept in ${world.dir}`);
  }
}
