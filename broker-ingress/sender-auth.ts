import { readFile } from 'node:fs/promises';
import { createRemoteJWKSet, customFetch, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import { BrokerError } from '../core/errors.js';
import type { CloudEvent } from '../core/cloudevents/event.js';
import type { SenderRule } from '../core/contract/types.js';
import type { SenderPolicy } from './ingress-table.js';

/**
 * OIDC sender authentication, as Knative Eventing does it: a request to a resource whose contract
 * ingress has an audience must carry `Authorization: Bearer <JWT>` signed by the cluster's issuer
 * for that audience (401 otherwise), and, where EventPolicies apply, a subject one of them allows
 * (403 otherwise).
 *
 * Keys come from the issuer's discovery document (read once) and its JWKS, which jose caches and
 * fetches again when a token names a key it does not hold (key rotation), at most every 30 s, and
 * reads afresh every 10 minutes, after which a key the issuer no longer publishes stops verifying.
 */

export interface OidcSettings {
  readonly issuer: string;
  readonly discoveryUrl?: string | undefined;
  readonly caFile?: string | undefined;
  readonly tokenFile?: string | undefined;
  readonly jwksCooldownMs?: number | undefined;
  readonly jwksCacheMaxAgeMs?: number | undefined;
}

export interface Sender {
  /** The token's `sub`, e.g. `system:serviceaccount:<namespace>:<name>`. */
  readonly subject: string;
  readonly claims: JWTPayload;
}

type KeySet = ReturnType<typeof createRemoteJWKSet>;

export class TokenVerifier {
  private keys: Promise<KeySet> | undefined;

  private constructor(
    private readonly settings: OidcSettings,
    private readonly agent: Agent | undefined,
    private readonly now: () => Date,
  ) {}

  /** `now` is the clock tokens' exp and nbf are checked against. */
  static async create(settings: OidcSettings, now: () => Date = () => new Date()): Promise<TokenVerifier> {
    let agent: Agent | undefined;
    if (settings.caFile !== undefined) {
      const ca = await readFile(settings.caFile, 'utf8').catch((error: unknown) => {
        throw new BrokerError('CONFIG_INVALID', `the OIDC CA file ${settings.caFile} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
      });
      agent = new Agent({ connect: { ca } });
    }
    return new TokenVerifier(settings, agent, now);
  }

  /** The sender of a request with this Authorization header, or TOKEN_INVALID (401) saying why not. */
  async verify(authorization: string | undefined, audience: string): Promise<Sender> {
    const token = bearerToken(authorization);
    const keys = await this.keySet();
    try {
      const { payload } = await jwtVerify(token, keys, { issuer: this.settings.issuer, audience, currentDate: this.now() });
      if (typeof payload.sub !== 'string' || payload.sub.length === 0) throw tokenInvalid('the token has no subject (sub)', 'no-subject');
      return { subject: payload.sub, claims: payload };
    } catch (error) {
      throw asTokenError(error, audience);
    }
  }

  close(): Promise<void> {
    return this.agent?.close() ?? Promise.resolve();
  }

  private keySet(): Promise<KeySet> {
    // A failed discovery is not cached: the next request tries again.
    this.keys ??= this.discover().catch((error: unknown) => {
      this.keys = undefined;
      throw error;
    });
    return this.keys;
  }

  private async discover(): Promise<KeySet> {
    const url = this.settings.discoveryUrl ?? `${this.settings.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    let document: { issuer?: unknown; jwks_uri?: unknown };
    try {
      const response = await this.fetch(url, { headers: new Headers(), signal: AbortSignal.timeout(5000) });
      if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
      document = (await response.json()) as typeof document;
    } catch (error) {
      throw new BrokerError('AUTH_UNAVAILABLE', `the OIDC discovery document ${url} cannot be read: ${(error as Error).message}`, { details: { discoveryUrl: url }, cause: error });
    }
    if (document.issuer !== this.settings.issuer || typeof document.jwks_uri !== 'string') {
      throw new BrokerError('CONFIG_INVALID', `the OIDC discovery document ${url} names issuer ${JSON.stringify(document.issuer)}, not ${this.settings.issuer}, or has no jwks_uri`, { details: { discoveryUrl: url } });
    }
    return createRemoteJWKSet(new URL(document.jwks_uri), {
      ...(this.settings.jwksCooldownMs === undefined ? {} : { cooldownDuration: this.settings.jwksCooldownMs }),
      ...(this.settings.jwksCacheMaxAgeMs === undefined ? {} : { cacheMaxAge: this.settings.jwksCacheMaxAgeMs }),
      [customFetch]: (jwksUrl, options) => this.fetch(jwksUrl, options),
    });
  }

  /** fetch with the configured CA, and the bearer token read afresh each time (it is rotated). */
  private async fetch(url: string, options: { headers: Headers; signal: AbortSignal }): Promise<Response> {
    // Our own request headers (jose's and ours), not a peer's: a plain object is fine here.
    const headers: Record<string, string> = Object.fromEntries(options.headers.entries());
    if (this.settings.tokenFile !== undefined) headers['authorization'] = `Bearer ${(await readFile(this.settings.tokenFile, 'utf8')).trim()}`;
    const response = await undiciFetch(url, { headers, signal: options.signal, redirect: 'manual', ...(this.agent === undefined ? {} : { dispatcher: this.agent }) });
    return response as unknown as Response;
  }
}

/**
 * The EventPolicy rules that let this subject send (empty: none; 'no-policies': no policy
 * selects the resource, so any authenticated sender may).
 */
export function rulesAllowing<R extends SenderRule>(rules: readonly R[] | undefined, subject: string): readonly R[] | 'no-policies' {
  if (rules === undefined) return 'no-policies';
  return rules.filter((rule) => rule.subjects.some((pattern) => subjectMatches(pattern, subject)));
}

/**
 * The policies whose filters refuse this event when every policy allowing its sender has filters
 * and none passes it (Knative: a request is allowed when one policy allows both sender and event);
 * undefined when the event may be sent.
 */
export function filtersRefusing(allowing: readonly SenderPolicy[], event: CloudEvent): readonly string[] | undefined {
  for (const rule of allowing) if (rule.accepts === undefined || rule.accepts(event)) return undefined;
  return allowing.map((rule) => rule.policy);
}

/** A subject pattern is exact, or ends in `*` and matches by prefix (Knative's EventPolicy `from.sub`). */
export function subjectMatches(pattern: string, subject: string): boolean {
  return pattern.endsWith('*') ? subject.startsWith(pattern.slice(0, -1)) : pattern === subject;
}

function bearerToken(authorization: string | undefined): string {
  if (authorization === undefined || authorization.length === 0) throw tokenInvalid('a bearer token is required (Authorization: Bearer <JWT>)', 'missing');
  const match = /^Bearer\s+(\S+)$/i.exec(authorization);
  if (match === null) throw tokenInvalid('the Authorization header must be "Bearer <JWT>"', 'malformed');
  return match[1]!;
}

function tokenInvalid(message: string, reason: string, cause?: unknown): BrokerError {
  return new BrokerError('TOKEN_INVALID', message, { details: { reason }, cause });
}

/** jose's error codes, mapped to a sentence and a reason a client can act on. */
function asTokenError(error: unknown, audience: string): BrokerError {
  if (error instanceof BrokerError) return error;
  if (error instanceof joseErrors.JWTExpired) return tokenInvalid('the token has expired', 'expired', error);
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return tokenInvalid(`the token is not for this audience (${audience})`, 'audience', error);
    if (error.claim === 'iss') return tokenInvalid('the token is not from the trusted issuer', 'issuer', error);
    return tokenInvalid(`the token's ${error.claim} claim is not valid: ${error.reason}`, error.claim, error);
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return tokenInvalid('the token signature does not verify', 'signature', error);
  if (error instanceof joseErrors.JWKSNoMatchingKey) return tokenInvalid('the token is signed with a key the issuer does not publish', 'signature', error);
  if (error instanceof joseErrors.JWKSTimeout || !(error instanceof joseErrors.JOSEError)) {
    return new BrokerError('AUTH_UNAVAILABLE', `the issuer's keys cannot be read: ${(error as Error).message}`, { cause: error });
  }
  return tokenInvalid(`the token is not a valid JWT: ${(error as Error).message}`, 'malformed', error);
}
