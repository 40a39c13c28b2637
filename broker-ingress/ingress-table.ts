import { diffContracts } from '../core/contract/diff.js';
import type { ClusterRef, ContentMode, Contract, Reference, Resource, ResourceKind, SenderRule } from '../core/contract/types.js';
import { compileFilter, type EventPredicate } from '../core/filters/compile.js';

/**
 * The path → topic table the ingress serves, rebuilt from each contract generation by diff.
 * Lookups are one Map.get; each generation swaps in a new map, so a request that already looked
 * its entry up finishes with it even if the resource is removed meanwhile.
 */

export interface IngressEntry {
  /** The contract resource's uid. */
  readonly uid: string;
  readonly path: string;
  /** The topic events are appended to (the resource's first topic). */
  readonly topic: string;
  readonly kind: ResourceKind;
  readonly contentMode: ContentMode;
  readonly reference: Reference;
  /**
   * Whether the `knativebrokerttl` hop limit applies: a Broker rule (replies come back to a
   * broker's own ingress, so a loop is possible), not a Channel's or a KafkaSink's.
   */
  readonly hopLimited: boolean;
  /** OIDC: the audience a sender's token must carry; absent, no token is asked for. */
  readonly audience?: string;
  /** The EventPolicies that apply (see core/contract/types.ts Ingress.senders), filters compiled. */
  readonly senders?: readonly SenderPolicy[];
  /** The resource's own Kafka cluster; absent: the process's. */
  readonly cluster?: ClusterRef;
}

/** An EventPolicy as the ingress runs it: `accepts` is its compiled `spec.filters` (absent: any event). */
export interface SenderPolicy extends SenderRule {
  readonly accepts?: EventPredicate;
}

export interface TableChanges {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly string[];
}

export class IngressTable {
  private entries = new Map<string, IngressEntry>();
  private contract: Contract | undefined;

  lookup(path: string): IngressEntry | undefined {
    return this.entries.get(path);
  }

  /** Whether a contract has been applied (for readiness). */
  get loaded(): boolean {
    return this.contract !== undefined;
  }

  get generation(): number | undefined {
    return this.contract?.generation;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Applies a newer contract; returns the paths that changed. */
  apply(contract: Contract): TableChanges {
    const diff = diffContracts(this.contract, contract).resources;
    const next = new Map(this.entries);
    const added: string[] = [];
    const removed: string[] = [];
    const changed: string[] = [];
    for (const resource of diff.removed) {
      const entry = entryFor(resource);
      if (entry !== undefined && next.get(entry.path)?.uid === resource.uid) {
        next.delete(entry.path);
        removed.push(entry.path);
      }
    }
    for (const { before, after } of diff.changed) {
      const old = entryFor(before);
      const entry = entryFor(after);
      if (old !== undefined && old.path !== entry?.path && next.get(old.path)?.uid === before.uid) {
        next.delete(old.path);
        removed.push(old.path);
      }
      if (entry !== undefined) {
        next.set(entry.path, entry);
        changed.push(entry.path);
      }
    }
    for (const resource of diff.added) {
      const entry = entryFor(resource);
      if (entry === undefined) continue;
      next.set(entry.path, entry);
      added.push(entry.path);
    }
    this.entries = next;
    this.contract = contract;
    return { added, removed, changed };
  }
}

/** The entry a resource contributes, or undefined when it has no HTTP ingress (or no topic). */
export function entryFor(resource: Resource): IngressEntry | undefined {
  const topic = resource.topics[0];
  if (resource.ingress === null || topic === undefined) return undefined;
  return {
    uid: resource.uid,
    path: resource.ingress.path,
    topic,
    kind: resource.kind,
    contentMode: resource.ingress.contentMode,
    reference: resource.reference,
    hopLimited: resource.kind === 'Broker',
    ...(resource.ingress.audience === undefined ? {} : { audience: resource.ingress.audience }),
    ...(resource.ingress.senders === undefined ? {} : { senders: resource.ingress.senders.map(senderPolicy) }),
    ...(resource.cluster === undefined ? {} : { cluster: resource.cluster }),
  };
}

function senderPolicy(rule: SenderRule): SenderPolicy {
  // A CESQL expression that does not compile (a contract that bypassed admission) fails closed.
  return rule.filter === undefined ? rule : { ...rule, accepts: compileFilter(rule.filter) };
}
