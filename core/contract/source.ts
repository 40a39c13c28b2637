import { readFile, writeFile, rename } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger.js';
import { parseContractJson } from './parse.js';
import type { Contract } from './types.js';

/**
 * How the data plane learns of contracts: a source holds the current generation and tells
 * subscribers of each newer one. In one process (`kafka-broker start`) the controller publishes
 * straight into an `InProcessContractSource`; separate processes watch a file.
 */
export interface ContractSource {
  current(): Contract | undefined;
  /** Calls the listener with every newer generation (and with the current one, if any, at once). */
  subscribe(listener: (contract: Contract) => void): () => void;
}

export class InProcessContractSource implements ContractSource {
  private contract: Contract | undefined;
  private readonly listeners = new Set<(contract: Contract) => void>();

  constructor(initial?: Contract) {
    this.contract = initial;
  }

  current(): Contract | undefined {
    return this.contract;
  }

  /** Publishes a contract; older or equal generations are ignored. */
  publish(contract: Contract): void {
    if (this.contract !== undefined && contract.generation <= this.contract.generation) return;
    this.contract = contract;
    for (const listener of this.listeners) listener(contract);
  }

  subscribe(listener: (contract: Contract) => void): () => void {
    this.listeners.add(listener);
    if (this.contract !== undefined) listener(this.contract);
    return () => this.listeners.delete(listener);
  }
}

export interface FileContractSource extends ContractSource {
  close(): void;
}

/**
 * Watches a contract file. A file that is missing or invalid leaves the last good contract in
 * force (and is logged); fs.watch events are backed by a slow poll because editors and
 * ConfigMap mounts replace files in ways fs.watch does not always report.
 */
export async function watchContractFile(file: string, logger: Logger, pollMs = 1000): Promise<FileContractSource> {
  const source = new InProcessContractSource();
  let lastText: string | undefined;
  const load = async (): Promise<void> => {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if (lastText !== undefined) logger.warn({ file, err: error }, 'contract file unreadable; keeping the last good contract');
      return;
    }
    if (text === lastText) return;
    lastText = text;
    try {
      source.publish(parseContractJson(text));
    } catch (error) {
      logger.error({ file, err: error }, 'contract file invalid; keeping the last good contract');
    }
  };
  await load();
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(path.dirname(file), () => void load());
  } catch {
    watcher = undefined;
  }
  const timer = setInterval(() => void load(), pollMs);
  timer.unref();
  return {
    current: () => source.current(),
    subscribe: (listener) => source.subscribe(listener),
    close: () => {
      clearInterval(timer);
      watcher?.close();
    },
  };
}

/** Writes a contract file atomically (write then rename), so a reader never sees half of it. */
export async function writeContractFile(file: string, contract: Contract): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, JSON.stringify(contract, null, 2));
  await rename(temp, file);
}
