import { isDeepStrictEqual } from 'node:util';
import { CONTRACT_VERSION, type Contract, type Resource } from '../core/contract/types.js';

/**
 * Publishes the data-plane contract only when its content changed, and is the one place the
 * generation is bumped. The sink is `InProcessContractSource.publish` when the data plane runs in
 * the same process, or `writeContractFile` when it runs apart.
 */
export class ContractWriter {
  private last: Contract | undefined;

  /**
   * @param initialGeneration the generation already published (e.g. read back from a contract
   *   file written before a restart), so that the data plane never sees the count go back.
   */
  constructor(
    private readonly sink: (contract: Contract) => void | Promise<void>,
    private readonly initialGeneration = 0,
  ) {}

  /** Publishes the resources as a new generation unless they equal the last ones; returns what was published. */
  async write(resources: readonly Resource[]): Promise<Contract | undefined> {
    if (this.last !== undefined && isDeepStrictEqual(this.last.resources, resources)) return undefined;
    const contract: Contract = { version: CONTRACT_VERSION, generation: (this.last?.generation ?? this.initialGeneration) + 1, resources };
    await this.sink(contract);
    this.last = contract;
    return contract;
  }

  /** The generation the next change will be published as. */
  nextGeneration(): number {
    return (this.last?.generation ?? this.initialGeneration) + 1;
  }

  current(): Contract | undefined {
    return this.last;
  }
}
