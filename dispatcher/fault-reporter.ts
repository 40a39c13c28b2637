import { request } from 'undici';
import type { EgressFault } from '../core/egress-faults.js';
import type { Logger } from '../core/logger.js';
import type { RewindOutcome } from '../core/rewind.js';

/**
 * Sends this dispatcher's faults per consumer group (events held, records skipped) to the
 * controller (`POST /data-plane/faults`, controller/admin.ts), which shows them on the triggers'
 * status and as Kubernetes Events. Changes are sent after `debounceMs`, all of them each time; they
 * are sent again every `refreshMs`, so that a restarted or new leader learns them and the
 * controller can tell a live dispatcher's faults from a gone one's. Best effort: a failure is
 * retried at the next refresh, logged once per outage.
 */

export interface FaultReporterOptions {
  /** The controller's faults URL, e.g. `http://kafka-broker-controller:9090/data-plane/faults`. */
  readonly url: string;
  readonly process: string;
  readonly faults: () => ReadonlyMap<string, EgressFault>;
  /** What became of the rewinds the contract asked for, per consumer group; sent along when there are any. */
  readonly rewinds?: () => ReadonlyMap<string, readonly RewindOutcome[]>;
  readonly logger: Logger;
  /** The bearer token for the controller's admin API, read before every report (it may rotate). */
  readonly token?: (() => string | Promise<string>) | undefined;
  readonly debounceMs?: number;
  readonly refreshMs?: number;
}

export class FaultReporter {
  private timer: NodeJS.Timeout | undefined;
  private readonly refresh: NodeJS.Timeout;
  private sending: Promise<void> = Promise.resolve();
  private failing = false;
  private closed = false;

  constructor(private readonly options: FaultReporterOptions) {
    this.refresh = setInterval(() => this.send(), options.refreshMs ?? 30_000);
    this.refresh.unref();
  }

  /** The faults changed: send them soon. */
  changed(): void {
    if (this.closed || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.send();
    }, this.options.debounceMs ?? 200);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.refresh);
    await this.sending;
  }

  private send(): void {
    if (this.closed) return;
    this.sending = this.sending.then(() => this.post());
  }

  private async post(): Promise<void> {
    const faults = [...this.options.faults()].map(([group, fault]) => ({ group, fault }));
    const rewinds = [...(this.options.rewinds?.() ?? [])].map(([group, outcomes]) => ({ group, outcomes }));
    try {
      const token = await this.options.token?.();
      const response = await request(this.options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
        body: JSON.stringify({ process: this.options.process, role: 'dispatcher', faults, ...(rewinds.length === 0 ? {} : { rewinds }) }),
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      const text = await response.body.text();
      if (response.statusCode >= 300) throw new Error(`HTTP ${response.statusCode}: ${text.slice(0, 200)}`);
      if (this.failing) this.options.logger.info('faults: the controller takes reports again');
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.options.logger.warn({ err: error, url: this.options.url }, `faults: cannot report to the controller (${(error as Error).message}); retrying every ${Math.round((this.options.refreshMs ?? 30_000) / 1000)} s`);
      this.failing = true;
    }
  }
}

/** The faults URL next to a contract URL (`.../contract` → `.../data-plane/faults`). */
export function faultsUrlOf(contractUrl: string): string {
  const url = new URL(contractUrl);
  url.pathname = url.pathname.replace(/\/contract\/?$/, '') + '/data-plane/faults';
  url.search = '';
  return url.toString();
}
