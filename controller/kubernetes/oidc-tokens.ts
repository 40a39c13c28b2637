import type { FastifyInstance } from 'fastify';
import type { Contract, Egress } from '../../core/contract/types.js';
import { BrokerError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { describeApiError, type KubeApi } from './api.js';

/**
 * The tokens the dispatcher presents to destinations that have an OIDC audience (Knative's
 * `authentication-oidc`), issued here so that the data plane never talks to Kubernetes:
 *
 *   dispatcher ──GET /oidc-tokens?egress=<uid>&audience=<aud> (admin auth)──▶ controller
 *                                                                            │ TokenRequest for the
 *                                                                            ▼ egress's ServiceAccount
 *                                                                      kube-apiserver
 *
 * Only what the contract names is issued: the egress must exist and carry that audience for one
 * of its destinations, so the route cannot mint a token for any other account or audience. A
 * ServiceAccount that does not exist yet is created (owned by the Trigger, so it goes with it);
 * one that exists and is not the Trigger's is not used (as Knative: someone else's account, maybe
 * with more rights, must not become a trigger's identity by its name).
 * A token is reused until 80 % of its lifetime has passed, the rule the kubelet applies to
 * projected tokens; requests for the same token while one is being issued share it.
 */

export interface IssuedToken {
  readonly token: string;
  readonly expiresAt: Date;
}

interface CachedToken extends IssuedToken {
  /** When it was asked for (ms since epoch): its lifetime runs from there. */
  readonly issuedAt: number;
}

export interface OidcTokenIssuerOptions {
  readonly api: Pick<KubeApi, 'requestToken' | 'ensureServiceAccount' | 'serviceAccountOwners'>;
  /** The contract in force (the one the data plane reads). */
  readonly contract: () => Contract | undefined;
  readonly logger: Logger;
  /** Lifetime asked of the API server (it may give less; 600 s at least). Default 3600. */
  readonly expirationSeconds?: number;
  readonly now?: () => number;
}

/** The API versions of the kinds whose egresses present tokens, for the ServiceAccount's owner reference. */
const OWNER_API_VERSIONS = new Map([['Trigger', 'eventing.knative.dev/v1'], ['Subscription', 'messaging.knative.dev/v1']]);

export class OidcTokenIssuer {
  /** Tokens the API server issued (TokenRequests that succeeded), for tests and logs. */
  requests = 0;
  private readonly cache = new Map<string, Promise<CachedToken>>();
  private readonly now: () => number;

  constructor(private readonly options: OidcTokenIssuerOptions) {
    this.now = options.now ?? Date.now;
  }

  async token(egressUid: string, audience: string): Promise<IssuedToken> {
    const egress = findEgress(this.options.contract(), egressUid);
    const auth = egress?.auth;
    if (egress === undefined || auth === undefined || (auth.destinationAudience !== audience && auth.deadLetterAudience !== audience)) {
      throw new BrokerError('NOT_FOUND', `no egress ${egressUid} with a destination of audience ${audience} in the contract`, { details: { egress: egressUid, audience } });
    }
    const { namespace, name } = auth.serviceAccount;
    const key = `${namespace}/${name}\u0000${audience}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      const issued = await cached.catch(() => undefined);
      if (issued !== undefined && this.fresh(issued)) return issued;
      // A newer request may have replaced the one awaited above.
      const latest = this.cache.get(key);
      if (latest !== undefined && latest !== cached) return latest;
    }
    const pending = this.issue(egress, audience);
    this.cache.set(key, pending);
    pending.catch(() => {
      if (this.cache.get(key) === pending) this.cache.delete(key);
    });
    return pending;
  }

  private fresh(issued: CachedToken): boolean {
    return this.now() < issued.issuedAt + (issued.expiresAt.getTime() - issued.issuedAt) * 0.8;
  }

  private async issue(egress: Egress, audience: string): Promise<CachedToken> {
    const { namespace, name } = egress.auth!.serviceAccount;
    const seconds = this.options.expirationSeconds ?? 3600;
    const request = async (): Promise<CachedToken> => {
      const issuedAt = this.now();
      const issued = await this.options.api.requestToken(namespace, name, audience, seconds);
      this.requests++;
      return { token: issued.token, expiresAt: issued.expiresAt, issuedAt };
    };
    const owner = `${egress.reference.kind} ${egress.reference.namespace}/${egress.reference.name}`;
    let owners: string[] | undefined;
    try {
      owners = await this.options.api.serviceAccountOwners(namespace, name);
      if (owners === undefined) {
        const apiVersion = OWNER_API_VERSIONS.get(egress.reference.kind) ?? 'eventing.knative.dev/v1';
        await this.options.api.ensureServiceAccount(namespace, name, { apiVersion, kind: egress.reference.kind, name: egress.reference.name, uid: egress.reference.uid });
        this.options.logger.info({ serviceAccount: `${namespace}/${name}`, owner }, 'created the OIDC identity of an egress');
      }
    } catch (error) {
      throw new BrokerError('AUTH_UNAVAILABLE', `cannot read or create ServiceAccount ${namespace}/${name}: ${describeApiError(error)}`, { details: { serviceAccount: `${namespace}/${name}`, audience }, cause: error });
    }
    if (owners !== undefined && !owners.includes(egress.reference.uid)) {
      throw new BrokerError('AUTH_UNAVAILABLE', `ServiceAccount ${namespace}/${name} exists and is not owned by ${owner}: it is not used as its OIDC identity`, { details: { serviceAccount: `${namespace}/${name}`, audience } });
    }
    try {
      return await request();
    } catch (error) {
      throw new BrokerError('AUTH_UNAVAILABLE', `cannot get a token for ServiceAccount ${namespace}/${name} (audience ${audience}): ${describeApiError(error)}`, { details: { serviceAccount: `${namespace}/${name}`, audience }, cause: error });
    }
  }
}

function findEgress(contract: Contract | undefined, uid: string): Egress | undefined {
  for (const resource of contract?.resources ?? []) for (const egress of resource.egresses) if (egress.uid === uid) return egress;
  return undefined;
}

/**
 * `GET /oidc-tokens?egress=<uid>&audience=<audience>` on the admin API:
 *   200 { token, expiresAt }   (Cache-Control: no-store)
 *   400 a parameter is missing; 404 the contract names no such egress and audience;
 *   503 the API server did not issue one.
 */
export function registerOidcTokenRoute(app: FastifyInstance, issuer: OidcTokenIssuer): void {
  app.get('/oidc-tokens', async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const egress = query['egress'];
    const audience = query['audience'];
    if (typeof egress !== 'string' || egress === '' || typeof audience !== 'string' || audience === '') {
      throw new BrokerError('INVALID_REQUEST', 'give egress=<uid> and audience=<audience>');
    }
    const issued = await issuer.token(egress, audience);
    void reply.header('cache-control', 'no-store');
    return { token: issued.token, expiresAt: issued.expiresAt.toISOString() };
  });
}
