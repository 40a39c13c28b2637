import type { ObjectStatus } from '../conditions.js';
import type { AddressEntry } from '../destinations.js';
import type { KnObject, ObjectKey } from '../resources.js';

/**
 * Where the controller's objects come from: a folder of manifests (manifests.ts) or the
 * Kubernetes API (../kubernetes/source.ts). The controller core sees only this port; it never learns which one it has.
 */
export interface ResourceSource {
  /** Loads the objects once (resolving when they are loaded), then calls `onChange` whenever they may have changed. */
  start(onChange: () => void): Promise<void>;
  /** The current objects, envelopes checked (see resources.ts). */
  objects(): readonly KnObject[];
  /** Input the source could not turn into objects (a broken file); reported, never fatal. */
  problems(): readonly SourceProblem[];
  /** Records statuses where the source keeps them (the Kubernetes API: the status subresource). */
  writeStatuses?(statuses: ReadonlyMap<ObjectKey, ObjectStatus>): Promise<void>;
  /**
   * Objects being deleted that wait for the controller to delete what it created for them (the
   * Kubernetes API: a deletionTimestamp and our finalizer). They are not among `objects()`.
   */
  finalizing?(): readonly KnObject[];
  /** Their topics and consumer groups are gone: the source lets them go (removes the finalizer). */
  finalized?(keys: readonly ObjectKey[]): Promise<void>;
  /** Addresses of referenced objects the controller does not serve (Kubernetes Services, Addressables). */
  addresses?(): ExternalAddresses;
  close(): Promise<void>;
}

/**
 * Destinations may refer to objects outside the controller's kinds; a source that can look them
 * up says which kinds it looked up (so a missing object reads "does not exist") and what it found.
 */
export interface ExternalAddresses {
  readonly kinds: readonly { readonly group: string; readonly kind: string }[];
  readonly entries: readonly {
    readonly group: string;
    readonly kind: string;
    readonly namespace: string;
    readonly name: string;
    readonly entry: AddressEntry;
  }[];
}

export interface SourceProblem {
  /** Where: a file path relative to the folder, or an API path. */
  readonly source: string;
  /** 1-based document number in a multi-document file. */
  readonly document?: number;
  /** 1-based line and column. */
  readonly line?: number;
  readonly column?: number;
  readonly message: string;
}

export function formatProblem(problem: SourceProblem): string {
  const where = [
    problem.source,
    problem.document === undefined ? undefined : `document ${problem.document}`,
    problem.line === undefined ? undefined : `line ${problem.line}${problem.column === undefined ? '' : `, column ${problem.column}`}`,
  ].filter((p) => p !== undefined).join(', ');
  return `${where}: ${problem.message}`;
}
