import { MAX_RANGES, type EgressFault } from '../core/egress-faults.js';
import type { RewindOutcome } from '../core/rewind.js';
import type { DataPlaneObservation, DataPlaneRole } from './state.js';

/**
 * What the data-plane processes in other processes told the controller: each long-poll for the
 * contract names the process, its role and the generation it has applied (core/contract/http-source.ts).
 * A resource's DataPlaneAvailable is True once every live process of each role it needs has
 * applied a generation at least the one that first carried it.
 *
 *   ingress-a  applied 7 ┐
 *   ingress-b  applied 6 ├─▶ reports ──▶ availability(required 7, [ingress, dispatcher])
 *   dispatcher applied 7 ┘                 False: "1 of 2 ingress processes has applied generation 7"
 *
 * A process is live while its poll is held or for `freshMs` after its last one. A role no process
 * has ever reported is not judged: a data plane that reads a contract file never reports, and the
 * controller cannot tell it from none. Once a role has reported, having no live process of it is
 * False (the processes went away).
 */

export type { DataPlaneRole } from './state.js';

export const isDataPlaneRole = (value: unknown): value is DataPlaneRole => value === 'ingress' || value === 'dispatcher';

export interface DataPlaneReport {
  readonly process: string;
  readonly role: DataPlaneRole;
  /** The controller's generation the process has applied (0: none yet). */
  readonly applied: number;
}

interface Seen {
  role: DataPlaneRole;
  applied: number;
  lastSeen: number;
  /** Polls held open right now. */
  open: number;
  /** What a dispatcher last said went wrong per consumer group (events held, records skipped). */
  faults: ReadonlyMap<string, EgressFault>;
  /** What became of the rewinds the contract asked for, per consumer group. */
  rewinds: ReadonlyMap<string, readonly RewindOutcome[]>;
}

export interface DataPlaneReportsOptions {
  /** How long a process counts as live after its last poll ended; polls are held 30 s. */
  readonly freshMs?: number;
  readonly now?: () => number;
}

export class DataPlaneReports {
  private readonly processes = new Map<string, Seen>();
  private readonly everSeen = new Set<DataPlaneRole>();
  private readonly listeners = new Set<() => void>();
  /** Ends each pending `whenServing` (close() ends them early). */
  private readonly waits = new Set<(served: boolean) => void>();
  private readonly freshMs: number;
  private readonly now: () => number;
  private expiry: NodeJS.Timeout | undefined;

  constructor(options: DataPlaneReportsOptions = {}) {
    this.freshMs = options.freshMs ?? 90_000;
    this.now = options.now ?? Date.now;
  }

  /** A poll began; returns the function to call when it ends. */
  polling(report: DataPlaneReport): () => void {
    const seen = this.record(report);
    seen.open++;
    return () => {
      seen.open = Math.max(0, seen.open - 1);
      seen.lastSeen = this.now();
      this.scheduleExpiry();
    };
  }

  /** A report without a held poll (a one-off request). */
  report(report: DataPlaneReport): void {
    this.record(report);
    this.scheduleExpiry();
  }

  /** A dispatcher's faults per consumer group, replacing what it said before. */
  reportFaults(process: string, role: DataPlaneRole, faults: ReadonlyMap<string, EgressFault>, rewinds: ReadonlyMap<string, readonly RewindOutcome[]> = new Map()): void {
    const seen = this.processes.get(process) ?? this.record({ process, role, applied: 0 });
    seen.lastSeen = this.now();
    seen.faults = faults;
    seen.rewinds = rewinds;
    this.scheduleExpiry();
    this.emit();
  }

  /** The faults of every live process, merged per consumer group (its partitions may be spread over several). */
  egressFaults(): ReadonlyMap<string, EgressFault> {
    const now = this.now();
    const merged = new Map<string, EgressFault>();
    for (const p of this.processes.values()) {
      if (!this.isLive(p, now)) continue;
      for (const [group, fault] of p.faults) merged.set(group, mergeFaults(merged.get(group), fault));
    }
    return merged;
  }

  /** The rewind outcomes of every live process per consumer group (each id once). */
  rewindOutcomes(): ReadonlyMap<string, readonly RewindOutcome[]> {
    const now = this.now();
    const merged = new Map<string, RewindOutcome[]>();
    for (const p of this.processes.values()) {
      if (!this.isLive(p, now)) continue;
      for (const [group, outcomes] of p.rewinds) {
        const list = merged.get(group) ?? [];
        for (const o of outcomes) if (!list.some((x) => x.id === o.id)) list.push(o);
        merged.set(group, list);
      }
    }
    return merged;
  }

  /** Calls the listener when a process applied a new generation, appeared or went away. */
  changes(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether every live process of each role has applied `required` (or later). */
  availability(required: number, roles: readonly DataPlaneRole[]): DataPlaneObservation {
    const now = this.now();
    const behind: string[] = [];
    for (const role of roles) {
      if (!this.everSeen.has(role)) continue;
      const live = [...this.processes.values()].filter((p) => p.role === role && this.isLive(p, now));
      if (live.length === 0) {
        behind.push(`no ${role} process has asked for the contract in the last ${Math.round(this.freshMs / 1000)} s`);
        continue;
      }
      const done = live.filter((p) => p.applied >= required).length;
      if (done < live.length) behind.push(`${done} of ${live.length} ${role} processes have applied contract generation ${required}`);
    }
    return behind.length === 0 ? { available: true } : { available: false, message: behind.join('; ') };
  }

  /**
   * Resolves true once every live process of `role` has applied `generation` (or later), false
   * once `withinMs` has passed first (or on close). A role no process has reported is not judged:
   * true at once, as `availability` says.
   */
  whenServing(role: DataPlaneRole, generation: number, withinMs: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const check = (): void => {
        if (this.availability(generation, [role]).available) end(true);
      };
      const end = (served: boolean): void => {
        clearTimeout(deadline);
        this.listeners.delete(check);
        this.waits.delete(end);
        resolve(served);
      };
      const deadline = setTimeout(() => end(false), withinMs);
      this.listeners.add(check);
      this.waits.add(end);
      check();
    });
  }

  /** For logs and tests: every known process. */
  snapshot(): { process: string; role: DataPlaneRole; applied: number; live: boolean }[] {
    const now = this.now();
    return [...this.processes].map(([process, p]) => ({ process, role: p.role, applied: p.applied, live: this.isLive(p, now) }));
  }

  close(): void {
    clearTimeout(this.expiry);
    for (const end of [...this.waits]) end(false);
    this.listeners.clear();
  }

  private isLive(p: Seen, now: number): boolean {
    return p.open > 0 || now - p.lastSeen < this.freshMs;
  }

  private record(report: DataPlaneReport): Seen {
    const now = this.now();
    let seen = this.processes.get(report.process);
    const changed = seen === undefined || seen.applied !== report.applied || seen.role !== report.role || !this.isLive(seen, now);
    if (seen === undefined) {
      seen = { role: report.role, applied: report.applied, lastSeen: now, open: 0, faults: new Map(), rewinds: new Map() };
      this.processes.set(report.process, seen);
    } else {
      seen.role = report.role;
      seen.applied = report.applied;
      seen.lastSeen = now;
    }
    this.everSeen.add(report.role);
    if (changed) this.emit();
    return seen;
  }

  /** Wakes the listeners when the next process goes stale, and forgets processes long gone. */
  private scheduleExpiry(): void {
    clearTimeout(this.expiry);
    const now = this.now();
    let next = Infinity;
    for (const [name, p] of this.processes) {
      if (p.open > 0) continue;
      const staleAt = p.lastSeen + this.freshMs;
      if (staleAt > now) next = Math.min(next, staleAt);
      else if (now - p.lastSeen > 10 * this.freshMs) this.processes.delete(name);
    }
    if (next === Infinity) return;
    this.expiry = setTimeout(() => {
      this.emit();
      this.scheduleExpiry();
    }, next - now + 1);
    this.expiry.unref();
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }
}

function mergeFaults(a: EgressFault | undefined, b: EgressFault): EgressFault {
  if (a === undefined) return b;
  const held = a.held ?? b.held;
  return {
    ...(held === undefined ? {} : { held }),
    skipped: [...a.skipped, ...b.skipped].slice(-MAX_RANGES),
    skippedRecords: a.skippedRecords + b.skippedRecords,
    lastSkippedAt: a.lastSkippedAt > b.lastSkippedAt ? a.lastSkippedAt : b.lastSkippedAt,
  };
}
