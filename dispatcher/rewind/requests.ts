import type { Contract, Egress } from '../../core/contract/types.js';
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

  constructor(
    private readonly rewinder: Rewinder,
    private readonly logger: Logger,
    private readonly onChange: () => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts the requests of a contract this process has applied that it has not seen before. */
  apply(contract: Contract): void {
    for (const resource of contract.resources) {
      for (const egress of resource.egresses) {
        const request = egress.rewind;
        if (request === undefined || egress.reference.kind !== 'Trigger' || this.seen.has(request.id)) continue;
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

  /** Resolves when the requests started so far are done. */
  async settled(): Promise<void> {
    await Promise.all([...this.running]);
  }

  private async run(egress: Egress, request: EgressRewind, generation: number): Promise<void> {
    const { namespace, name } = egress.reference;
    const base = { id: request.id, kind: request.kind, who: request.who, generation };
    let outcome: RewindOutcome;
    try {
      const answer = await this.rewinder.rewind({ namespace, name, mode: request.kind, to: request.to, dryRun: false, confirm: true, who: request.who });
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
