import { isDeepStrictEqual } from 'node:util';
import type { Contract, Egress, Resource } from './types.js';

/**
 * What changed between two contract generations, keyed by uid, so the data plane can apply a new
 * generation by difference: start what was added, stop what was removed, and update (or restart)
 * what changed — without disturbing anything else.
 */
export interface ContractDiff {
  readonly resources: Changes<Resource>;
  /** Egresses with the resource they belong to (in the new contract, or the old one if removed). */
  readonly egresses: Changes<{ readonly resource: Resource; readonly egress: Egress }>;
}

export interface Changes<T> {
  readonly added: readonly T[];
  readonly removed: readonly T[];
  readonly changed: readonly { readonly before: T; readonly after: T }[];
}

type EgressEntry = { readonly resource: Resource; readonly egress: Egress };

export function diffContracts(before: Contract | undefined, after: Contract): ContractDiff {
  const oldResources = new Map((before?.resources ?? []).map((r) => [r.uid, r]));
  const newResources = new Map(after.resources.map((r) => [r.uid, r]));
  return {
    resources: diffMaps(oldResources, newResources, (a, b) => isDeepStrictEqual(withoutEgresses(a), withoutEgresses(b))),
    egresses: diffMaps(egressesOf(before), egressesOf(after), (a, b) =>
      // An egress changes when its own settings change, or when the resource fields it inherits do;
      // a rewind request is not a setting (the dispatcher applies it to the running egress).
      isDeepStrictEqual(withoutRewind(a.egress), withoutRewind(b.egress)) && isDeepStrictEqual(withoutEgresses(a.resource), withoutEgresses(b.resource)),
    ),
  };
}

function withoutEgresses(resource: Resource): Omit<Resource, 'egresses'> {
  const { egresses: _egresses, ...rest } = resource;
  return rest;
}

function withoutRewind(egress: Egress): Omit<Egress, 'rewind'> {
  const { rewind: _rewind, ...rest } = egress;
  return rest;
}

function egressesOf(contract: Contract | undefined): Map<string, EgressEntry> {
  const map = new Map<string, EgressEntry>();
  for (const resource of contract?.resources ?? []) for (const egress of resource.egresses) map.set(egress.uid, { resource, egress });
  return map;
}

function diffMaps<T>(before: Map<string, T>, after: Map<string, T>, same: (a: T, b: T) => boolean): Changes<T> {
  const added: T[] = [];
  const removed: T[] = [];
  const changed: { before: T; after: T }[] = [];
  for (const [key, value] of after) {
    const old = before.get(key);
    if (old === undefined) added.push(value);
    else if (!same(old, value)) changed.push({ before: old, after: value });
  }
  for (const [key, value] of before) if (!after.has(key)) removed.push(value);
  return { added, removed, changed };
}

export function isEmptyDiff(diff: ContractDiff): boolean {
  const empty = (c: Changes<unknown>): boolean => c.added.length === 0 && c.removed.length === 0 && c.changed.length === 0;
  return empty(diff.resources) && empty(diff.egresses);
}
