import type { CoreV1Event } from '@kubernetes/client-node';
import type { Logger } from '../../core/logger.js';
import type { ResourceEvent } from '../resource-events.js';
import { describeApiError, type KubeApi } from './api.js';

/**
 * Writes ResourceEvents as core/v1 Events on the objects they regard. The same event again
 * (same object, type, reason and message) within `windowMs` bumps the count and last time of the
 * Event already written, as client-go's event correlator does, rather than adding another; at
 * most `maxPerMinute` Events are written a minute, so a flapping resource cannot flood the API.
 * Writing is in the background and best-effort: a failure is logged once per outage.
 */

export interface EventRecorderOptions {
  readonly api: Pick<KubeApi, 'createEvent' | 'patchEvent'>;
  readonly logger: Logger;
  /** `source.component` and `reportingComponent`. */
  readonly component?: string;
  /** `reportingInstance`: the pod's name. */
  readonly instance?: string;
  readonly windowMs?: number;
  readonly maxPerMinute?: number;
  readonly now?: () => Date;
}

interface Written {
  readonly namespace: string;
  readonly name: string;
  count: number;
  at: number;
}

const MAX_REMEMBERED = 4096;

export class EventRecorder {
  /** Keyed by a string built from the event (never looked up in a plain object). */
  private readonly written = new Map<string, Written>();
  private queue: Promise<void> = Promise.resolve();
  private minute = { start: 0, count: 0 };
  private failing = false;
  private readonly windowMs: number;
  private readonly maxPerMinute: number;
  private readonly now: () => Date;

  constructor(private readonly options: EventRecorderOptions) {
    this.windowMs = options.windowMs ?? 10 * 60_000;
    this.maxPerMinute = options.maxPerMinute ?? 300;
    this.now = options.now ?? (() => new Date());
  }

  record(event: ResourceEvent): void {
    this.queue = this.queue.then(() => this.write(event)).catch((error: unknown) => this.failed(error));
  }

  /** Resolves when everything recorded so far was written (or given up). */
  flush(): Promise<void> {
    return this.queue;
  }

  private async write(event: ResourceEvent): Promise<void> {
    const now = this.now();
    const ms = now.getTime();
    if (ms - this.minute.start >= 60_000) this.minute = { start: ms, count: 0 };
    if (this.minute.count >= this.maxPerMinute) return;
    this.minute.count++;
    const { regarding } = event;
    const key = JSON.stringify([regarding.uid, regarding.namespace, regarding.name, event.type, event.reason, event.message]);
    const seen = this.written.get(key);
    const time = now.toISOString();
    if (seen !== undefined && ms - seen.at < this.windowMs) {
      seen.count++;
      seen.at = ms;
      await this.options.api.patchEvent(seen.namespace, seen.name, { count: seen.count, lastTimestamp: time });
      this.recovered();
      return;
    }
    const component = this.options.component ?? 'kafka-broker-controller';
    const body: CoreV1Event = {
      metadata: { namespace: regarding.namespace, generateName: `${regarding.name}.` },
      involvedObject: { apiVersion: regarding.apiVersion, kind: regarding.kind, namespace: regarding.namespace, name: regarding.name, uid: regarding.uid },
      type: event.type,
      reason: event.reason,
      // The API refuses messages over 1 kB.
      message: event.message.length > 1024 ? `${event.message.slice(0, 1021)}...` : event.message,
      source: { component },
      reportingComponent: component,
      reportingInstance: this.options.instance ?? component,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    const created = await this.options.api.createEvent(regarding.namespace, body);
    this.written.delete(key);
    this.written.set(key, { namespace: regarding.namespace, name: created.metadata?.name ?? '', count: 1, at: ms });
    if (this.written.size > MAX_REMEMBERED) this.written.delete(this.written.keys().next().value!);
    this.recovered();
  }

  private recovered(): void {
    if (this.failing) this.options.logger.info('events: writing Kubernetes Events works again');
    this.failing = false;
  }

  private failed(error: unknown): void {
    if (!this.failing) this.options.logger.warn({ err: error }, `events: cannot write a Kubernetes Event (${describeApiError(error)}); events are dropped until it works`);
    this.failing = true;
  }
}
