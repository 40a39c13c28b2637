import { setTimeout as sleep } from 'node:timers/promises';
import type { Contract, Egress } from '../../core/contract/types.js';
import { isBrokerError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { MAX_REWIND_OUTCOMES, type EgressRewind, type RewindOutcome } from '../../core/rewind.js';
import type { Rewinder } from './service.js';

/**
 * Rewinds the contract asks for (Kubernetes mode: a Trigger's annotations, core/rewind.ts):
 * each request id is applied once by this process, through the same Rewinder as the admin API
 * (so safely while running, with replays marked), and its outcome is kept per consumer group for
 * the controller, which records it in the Trigger's status and then drops the request from the
 * contract. Moving to the same place again takes a new id (the controller derives it from the
 * annotations), never the same request seen twice.
 */
export class ContractRewinds {
  private readonly seen = new Set<string>();
  private readonly outcomes = new Map<string, RewindOutcome[]>();
  private readonly running = new Set<Promise<void>>();
  private readonly closing = new AbortController();

  constructor(
    private readonly rewinder: Rewinder,
    private readonly logger: Logger,
    private readonly onChange: () => void,
    private readonly now: () => number = Date.now,
    private readonly attempts = 5,
    private readonly retryMs = 1000,
  ) {}

  /** Starts the requests of a contract this process has applied that it has not seen before. */
  apply(contract: Contract): void {
    for (const resource of contract.resources) {
      for (const egress of resource.egresses) {
        const request = egress.rewind;
        if (request === undefined || egress.reference.kind !== 'Trigger' || this.seen.has(request.id) || this.closing.signal.aborted) continue;
        this.seen.add(request.id);
        const run = this.run(egress, request, contract.generation);
        this.running.add(run);
        void run.finally(() => this.running.delete(run));
      }
    }
  }

  /** Outcomes per consumer group, newest last. */
  snapshot(): ReadonlyMap<string, readonly RewindOutcome[]> {
    return this.outcomes;
  }

  /** Starts no more retries, and resolves when the requests started so far are done. */
  async close(): Promise<void> {
    this.closing.abort();
    await Promise.all([...this.running]);
  }

  /**
   * A request arrives with the contract that starts or changes the egress, when its member may be
   * joining or its group rebalancing: what may pass is tried again a few times before it counts
   * as failed (a failure is final for that id).
   */
  private async withRetries<T>(attempt: () => Promise<T>): Promise<T> {
    for (let i = 1; ; i++) {
      try {
        return await attempt();
      } catch (error) {
        const code = isBrokerError(error) ? error.code : undefined;
        if (i >= this.attempts || this.closing.signal.aborted || (code !== 'GROUP_BUSY' && code !== 'LOG_UNAVAILABLE' && code !== 'NOT_FOUND')) throw error;
        await sleep(this.retryMs * i, undefined, { signal: this.closing.signal }).catch(() => undefined);
      }
    }
  }

  private async run(egress: Egress, request: EgressRewind, generation: number): Promise<void> {
    const { namespace, name } = egress.reference;
    const base = { id: request.id, kind: request.kind, who: request.who, generation };
    let outcome: RewindOutcome;
    try {
      const answer = await this.withRetries(() => this.rewinder.rewind({ namespace, name, mode: request.kind, to: request.to, dryRun: false, confirm: true, who: request.who }));
      outcome = {
        ...base, state: 'done', at: new Date(this.now()).toISOString(), to: answer.to,
        from: answer.moves.map((m) => `${m.partition}:${m.current}`).join(','), redelivered: answer.redelivered, skipped: answer.skipped,
      };
    } catch (error) {
      this.logger.warn({ err: error, trigger: `${namespace}/${name}`, id: request.id }, `the ${request.kind} the contract asked for failed`);
      outcome = { ...base, state: 'failed', at: new Date(this.now()).toISOString(), to: request.to, from: '', redelivered: 0, skipped: 0, message: (error as Error).message };
    }
    const list = [...(this.outcomes.get(egress.consumerGroup) ?? []), outcome].slice(-MAX_REWIND_OUTCOMES);
    this.outcomes.set(egress.consumerGroup, list);
    this.onChange();
  }
}
