import { createHash } from 'node:crypto';
import type { AdminAction, AdminAuth, AdminIdentity } from '../../core/admin-auth/index.js';
import { BrokerError } from '../../core/errors.js';
import { describeApiError, type AccessAttributes, type KubeApi, type ReviewedUser } from './api.js';

/**
 * The admin API's authentication in Kubernetes mode: the caller's bearer token is checked with a
 * TokenReview, and each request with a SubjectAccessReview, so that RBAC says who may do what
 * (deploy/base/10-rbac.yaml: the data plane may read the contract, operators may replay):
 *
 *   GET /apis/<group>/<version>[/namespaces/<ns>]/<plural>[/<name>]
 *                            the resource itself: verb list (or get with a name) on <plural>.<group>,
 *                            so whoever may `kubectl get triggers` may read them here too
 *   anything else            a non-resource URL: the path, verb = the method in lower case
 *                            (get /contract, get /dead-letters/events/<id>, post /dead-letters/replay)
 *
 * Answers are cached for `cacheMs` (10 s), as the API server's own webhook authenticator does,
 * so a data plane that long-polls every 30 s costs one review per poll at most.
 */

export interface KubernetesAdminAuthOptions {
  /** TokenReview audiences; empty: the API server's own (any token kubectl would accept). */
  readonly audiences?: readonly string[];
  readonly cacheMs?: number;
  readonly maxCached?: number;
  readonly now?: () => number;
}

export class KubernetesAdminAuth implements AdminAuth {
  readonly description: string;
  private readonly tokens: TtlCache<ReviewedUser | null>;
  private readonly decisions: TtlCache<boolean>;
  private readonly audiences: readonly string[];

  constructor(private readonly api: KubeApi, options: KubernetesAdminAuthOptions = {}) {
    this.audiences = options.audiences ?? [];
    const ttl = options.cacheMs ?? 10_000;
    const max = options.maxCached ?? 1000;
    const now = options.now ?? Date.now;
    this.tokens = new TtlCache(ttl, max, now);
    this.decisions = new TtlCache(ttl, max, now);
    this.description = `Kubernetes TokenReview${this.audiences.length === 0 ? '' : ` (audience ${this.audiences.join(', ')})`} and SubjectAccessReview`;
  }

  async authenticate(token: string): Promise<AdminIdentity | undefined> {
    const key = createHash('sha256').update(token).digest('base64');
    let user = this.tokens.get(key);
    if (user === undefined) {
      const review = await this.api.reviewToken(token, this.audiences).catch((error: unknown) => {
        throw new BrokerError('INTERNAL', `cannot check the token with the API server: ${describeApiError(error)}`, { cause: error });
      });
      user = review.authenticated ? review.user : null;
      this.tokens.set(key, user);
    }
    return user === null ? undefined : { name: user.username, groups: user.groups, details: { user } };
  }

  async authorize(identity: AdminIdentity, action: AdminAction): Promise<boolean> {
    const user = (identity.details?.['user'] as ReviewedUser | undefined) ?? { username: identity.name, groups: identity.groups };
    const attributes = accessAttributes(action);
    const key = JSON.stringify([user.username, user.groups, user.uid ?? null, attributes]);
    let allowed = this.decisions.get(key);
    if (allowed === undefined) {
      allowed = await this.api.reviewAccess(user, attributes).catch((error: unknown) => {
        throw new BrokerError('INTERNAL', `cannot check access with the API server: ${describeApiError(error)}`, { cause: error });
      });
      this.decisions.set(key, allowed);
    }
    return allowed;
  }
}

const RESOURCE_PATH = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?$/;

/** What a SubjectAccessReview asks for one admin request (see the table above). */
export function accessAttributes(action: AdminAction): AccessAttributes {
  const match = action.method === 'GET' ? RESOURCE_PATH.exec(action.path) : null;
  if (match !== null) {
    const [, coreVersion, group, version, namespace, resource, name] = match.map((part) => (part === undefined ? undefined : safeDecode(part)));
    if (resource !== undefined && resource !== 'namespaces' && !(namespace === undefined && name !== undefined)) {
      return {
        resourceAttributes: {
          verb: name === undefined ? 'list' : 'get',
          group: coreVersion !== undefined ? '' : group ?? '',
          version: coreVersion ?? version ?? '',
          resource,
          ...(namespace === undefined ? {} : { namespace }),
          ...(name === undefined ? {} : { name }),
        },
      };
    }
  }
  return { nonResourceAttributes: { verb: action.method.toLowerCase(), path: action.path } };
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/** A small map whose entries expire; the oldest go first when it is full. */
class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  constructor(private readonly ttlMs: number, private readonly max: number, private readonly now: () => number) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, { value, until: this.now() + this.ttlMs });
    while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
  }
}
