import type { Contract } from '../core/contract/types.js';

/**
 * The contract the controller serves to a data plane in other processes (`GET /contract` on the
 * admin server, controller/admin.ts): the latest one published, or none (before the first, or on a
 * Kubernetes standby). A `ContractWriter` publishes into it; its listeners wake the long-polls.
 */
export class ContractFeed {
  private contract: Contract | undefined;
  private readonly listeners = new Set<() => void>();

  publish(contract: Contract): void {
    this.contract = contract;
    for (const listener of this.listeners) listener();
  }

  clear(): void {
    this.contract = undefined;
    for (const listener of this.listeners) listener();
  }

  current(): Contract | undefined {
    return this.contract;
  }

  changes(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
