import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../../core/logger.js';
import { describeApiError, microTime, statusOf, type KubeApi } from './api.js';
import { sleep, withTimeout } from '../../core/async.js';

/**
 * Leader election on a `coordination.k8s.io/v1` Lease, with client-go's rules
 * (k8s.io/client-go/tools/leaderelection), so that of several controller replicas exactly one
 * reconciles:
 *
 *  - a candidate takes the Lease when it does not exist, has no holder, or its record has not
 *    changed for `leaseDuration` as measured on the candidate's own clock (clocks of different
 *    machines are never compared);
 *  - the leader renews every `retryPeriod`; if it cannot renew for `renewDeadline` (shorter than
 *    `leaseDuration`) it stops leading *before* anyone else may take over;
 *  - writes carry the Lease's resourceVersion, so of two candidates only one wins (409 for the other);
 *  - on a clean shutdown the leader releases the Lease (no holder), so a standby takes over at
 *    its next try instead of after `leaseDuration`.
 *
 *   candidate ──try every retryPeriod──▶ leader ──renew every retryPeriod──▶ … ──▶ released
 *       ▲                                   │ no renewal for renewDeadline
 *       └────────── stopped leading ◀───────┘
 *
 * Each leadership is a new term: `leaseTransitions` is incremented whenever a candidate acquires
 * the Lease (client-go does it only when the holder changes; we also do it when the same process
 * acquires it again), and the term numbers the contract generations (see controller.ts).
 */

export interface LeaderElectionOptions {
  readonly api: KubeApi;
  readonly namespace: string;
  readonly name: string;
  /** Unique per process; by default `<hostname>-<random>`. */
  readonly identity?: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly logger: Logger;
}

export interface Leadership {
  /** The Lease's leaseTransitions when this leadership began. */
  readonly term: number;
  /** Aborted when the leadership ends (lost or released). */
  readonly signal: AbortSignal;
}

export interface LeaderCallbacks {
  /** Called when this process becomes the leader; may run until `signal` aborts. */
  onStartedLeading(leadership: Leadership): void | Promise<void>;
  /** Called when it stops (lost, or shutting down); the next term waits until this resolves. */
  onStoppedLeading(): void | Promise<void>;
}

export const defaultIdentity = (): string => `${hostname()}-${randomBytes(4).toString('hex')}`;

export class LeaderElector {
  readonly identity: string;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly logger: Logger;
  private observedRecord = '';
  private observedAt = 0;
  private lastHolder: string | undefined;
  private lastError: string | undefined;
  private leading = false;
  private term = -1;
  private stopped = false;
  private release = true;
  private readonly wake = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(private readonly options: LeaderElectionOptions) {
    this.identity = options.identity ?? defaultIdentity();
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (!(this.retryPeriodMs < this.renewDeadlineMs && this.renewDeadlineMs < this.leaseDurationMs)) {
      throw new Error('leader election needs retryPeriod < renewDeadline < leaseDuration');
    }
    this.logger = options.logger.child({ component: 'leader-election', identity: this.identity });
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** The holder last seen in the Lease (this process, another, or '' when released). */
  holder(): string | undefined {
    return this.lastHolder;
  }

  /** Runs the election until `stop()`; each leadership calls the callbacks once. */
  run(callbacks: LeaderCallbacks): Promise<void> {
    this.loop ??= this.elect(callbacks);
    return this.loop;
  }

  /** Stops campaigning; a leader releases the Lease (unless `release` is false) after its callbacks stopped. */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.release = options.release ?? true;
    this.wake.abort();
    await this.loop;
  }

  private async elect(callbacks: LeaderCallbacks): Promise<void> {
    while (!this.stopped) {
      // ---- candidate ----
      let acquired = false;
      while (!this.stopped && !acquired) {
        acquired = await this.tryAcquireOrRenew(false);
        if (!acquired) await this.sleep(this.retryPeriodMs * (1 + 0.2 * Math.random()));
      }
      if (!acquired) break;

      // ---- leader ----
      this.leading = true;
      const ended = new AbortController();
      this.logger.info({ term: this.term, lease: `${this.options.namespace}/${this.options.name}` }, `became the leader (term ${this.term})`);
      // A leader that cannot start must not sit on the Lease: it steps down and campaigns again.
      let failed = false;
      const started = Promise.resolve()
        .then(() => callbacks.onStartedLeading({ term: this.term, signal: ended.signal }))
        .catch((error: unknown) => {
          failed = true;
          this.logger.error({ err: error }, 'the leader failed to start; stepping down');
        });
      const lost = await this.renewUntilLost(() => failed);
      this.leading = false;
      ended.abort();
      await started;
      await Promise.resolve(callbacks.onStoppedLeading()).catch((error: unknown) => this.logger.error({ err: error }, 'stopping the leader failed'));
      if (failed) await this.releaseLease();
      else if (lost) this.logger.warn({ term: this.term }, `lost the leadership (no renewal for ${this.renewDeadlineMs} ms); campaigning again`);
      else if (this.release) await this.releaseLease();
      if (!this.stopped) await this.sleep(this.retryPeriodMs);
    }
  }

  /** Renews every retryPeriod; returns true when the leadership was lost (or given up), false when stopped. */
  private async renewUntilLost(givenUp: () => boolean): Promise<boolean> {
    let lastRenewal = Date.now();
    while (!this.stopped) {
      await this.sleep(this.retryPeriodMs);
      if (this.stopped) return false;
      if (givenUp()) return true;
      const remaining = this.renewDeadlineMs - (Date.now() - lastRenewal);
      // A renewal that hangs must not outlive the deadline: another replica may take over after it.
      const renewed = remaining > 0 && (await withTimeout(this.tryAcquireOrRenew(true), remaining, false));
      if (renewed) lastRenewal = Date.now();
      else if (Date.now() - lastRenewal >= this.renewDeadlineMs) return true;
    }
    return false;
  }

  /** One attempt, as client-go's tryAcquireOrRenew; true when this process holds the Lease now. */
  private async tryAcquireOrRenew(renewing: boolean): Promise<boolean> {
    const { api, namespace, name } = this.options;
    const now = Date.now();
    const seconds = Math.max(1, Math.ceil(this.leaseDurationMs / 1000));
    try {
      const lease = await api.readLease(namespace, name);
      if (lease === undefined) {
        const created = await api.createLease(namespace, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace },
          spec: { holderIdentity: this.identity, leaseDurationSeconds: seconds, acquireTime: microTime(new Date(now)), renewTime: microTime(new Date(now)), leaseTransitions: 0 },
        });
        this.observe(created, now);
        this.term = 0;
        this.lastError = undefined;
        return true;
      }
      this.observe(lease, now);
      const spec = lease.spec ?? {};
      const holder = spec.holderIdentity ?? '';
      const durationMs = (spec.leaseDurationSeconds ?? seconds) * 1000;
      if (holder !== '' && holder !== this.identity && now < this.observedAt + durationMs) return false;
      const keep = renewing && holder === this.identity;
      const transitions = spec.leaseTransitions ?? 0;
      const next: V1Lease = {
        ...lease,
        spec: {
          ...spec,
          holderIdentity: this.identity,
          leaseDurationSeconds: seconds,
          acquireTime: keep && spec.acquireTime !== undefined ? microTime(new Date(String(spec.acquireTime))) : microTime(new Date(now)),
          renewTime: microTime(new Date(now)),
          leaseTransitions: keep ? transitions : transitions + 1,
        },
      };
      const written = await api.replaceLease(namespace, name, next);
      this.observe(written, now);
      this.term = written.spec?.leaseTransitions ?? 0;
      this.lastError = undefined;
      return true;
    } catch (error) {
      // 409: another candidate wrote first, the normal way to lose a race. Anything else (the
      // API unreachable, RBAC) is worth one warning per distinct cause.
      if (statusOf(error) !== 409) {
        const message = `lease ${namespace}/${name}: ${describeApiError(error)}`;
        if (message !== this.lastError) this.logger.warn({ err: error }, message);
        this.lastError = message;
      }
      return false;
    }
  }

  /** Remembers when the Lease's record last changed, on this process's clock. */
  private observe(lease: V1Lease, now: number): void {
    const spec = lease.spec ?? {};
    const record = JSON.stringify([spec.holderIdentity ?? '', String(spec.renewTime ?? ''), spec.leaseTransitions ?? 0, spec.leaseDurationSeconds ?? 0]);
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAt = now;
    }
    this.lastHolder = spec.holderIdentity ?? '';
  }

  /** Gives the Lease up (no holder) so that a standby need not wait for it to expire. */
  private async releaseLease(): Promise<void> {
    const { api, namespace, name } = this.options;
    try {
      const lease = await api.readLease(namespace, name);
      if (lease?.spec?.holderIdentity !== this.identity) return;
      const now = microTime(new Date());
      await api.replaceLease(namespace, name, {
        ...lease,
        spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now },
      });
      this.lastHolder = '';
      this.logger.info('released the leadership');
    } catch (error) {
      this.logger.warn({ err: error }, `releasing lease ${namespace}/${name} failed (${describeApiError(error)}); a standby takes over when it expires`);
    }
  }

  private async sleep(ms: number): Promise<void> {
    await sleep(ms, this.wake.signal);
  }
}

