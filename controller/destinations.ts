import { apiGroup, objectKey } from './resources.js';

/** A reference to another object (Knative `KReference`); the namespace is defaulted. */
export interface KReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
}

/** Knative `duckv1.Destination`: a reference, a URI, or a reference plus a relative URI. */
export interface Destination {
  readonly ref: KReference | null;
  readonly uri: string | null;
  /** The OIDC audience of the destination (`audience`); it overrides the resolved address's. */
  readonly audience?: string;
}


/**
 * Resolving a Knative `Destination` to a URL, the way Knative's URI resolver does: a `uri` alone
 * is used as it is; a `ref` is looked up among the addressable objects the controller knows and
 * replaced by its address, with a relative `uri` resolved against that address (RFC 3986 §5.2,
 * as Go's `url.ResolveReference` does). Pure: the address book is built by the caller.
 */

export type Resolution = { readonly ok: true; readonly uri: string; readonly audience?: string } | { readonly ok: false; readonly message: string };

/** What the controller knows about one addressable object; `audience`: its `status.address.audience`. */
export type AddressEntry = { readonly url: string; readonly audience?: string } | { readonly url: null; readonly why: string };

/** Addressable kinds by API group and kind (Brokers, KafkaSinks and the channel kinds). */
export class AddressBook {
  private readonly entries = new Map<string, AddressEntry>();
  private readonly kinds = new Set<string>();

  /** Declares a kind this controller can resolve, even while none of its objects exist. */
  addKind(group: string, kind: string): this {
    this.kinds.add(`${group}/${kind}`);
    return this;
  }

  set(group: string, kind: string, namespace: string, name: string, entry: AddressEntry): void {
    this.kinds.add(`${group}/${kind}`);
    this.entries.set(`${group}/${objectKey(kind, namespace, name)}`, entry);
  }

  resolve(destination: Destination): Resolution {
    const resolved = this.resolveUri(destination);
    if (!resolved.ok || destination.audience === undefined) return resolved;
    return { ok: true, uri: resolved.uri, audience: destination.audience };
  }

  private resolveUri(destination: Destination): Resolution {
    if (destination.ref === null) {
      return destination.uri === null ? { ok: false, message: 'the destination has neither ref nor uri' } : { ok: true, uri: destination.uri };
    }
    const base = this.lookup(destination.ref);
    if (!base.ok || destination.uri === null) return base;
    try {
      return { ok: true, uri: new URL(destination.uri, base.uri).toString(), ...(base.audience === undefined ? {} : { audience: base.audience }) };
    } catch {
      return { ok: false, message: `cannot resolve uri "${destination.uri}" against ${base.uri}` };
    }
  }

  private lookup(ref: KReference): Resolution {
    const group = apiGroup(ref.apiVersion);
    const what = `${ref.kind} "${ref.name}" (${ref.apiVersion})`;
    if (!this.kinds.has(`${group}/${ref.kind}`)) {
      const known = [...this.kinds].map((k) => k.slice(k.indexOf('/') + 1)).sort().join(', ');
      return { ok: false, message: `cannot resolve a reference to ${what}: only ${known} can be referred to here; give the destination a uri instead` };
    }
    const entry = this.entries.get(`${group}/${objectKey(ref.kind, ref.namespace, ref.name)}`);
    if (entry === undefined) return { ok: false, message: `${what} does not exist in namespace "${ref.namespace}"` };
    if (entry.url === null) return { ok: false, message: `${what} in namespace "${ref.namespace}" has no address: ${entry.why}` };
    return { ok: true, uri: entry.url, ...(entry.audience === undefined ? {} : { audience: entry.audience }) };
  }
}
