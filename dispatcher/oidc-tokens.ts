import { readFile } from 'node:fs/promises';
import { request } from 'undici';
import { effectiveEgressConfig, type Egress, type Resource } from '../core/contract/types.js';
import type { AttemptResult, HttpRequest, Sender } from './delivery.js';

/**
 * The OIDC tokens the dispatcher presents to destinations that have an audience (the contract's
 * `Egress.auth`): `Authorization: Bearer <token>` on each attempt to that destination.
 *
 * Where tokens come from (the data plane never talks to Kubernetes):
 *  - Kubernetes mode: the controller's `GET /oidc-tokens?egress=&audience=` (the TokenRequest API
 *    behind it, controller/kubernetes/oidc-tokens.ts), with the admin token the contract is read
 *    with; each token is reused until 80 % of its remaining lifetime has passed;
 *  - standalone: a file per audience (`oidcTokenFiles`), read again every 10 s (rotated by whoever
 *    writes it).
 * Without a token, the attempt fails as a network failure would (retried, then dead-lettered):
 * sending without one would only be refused by the destination.
 */

export interface TokenSource {
  /** A token of the egress's identity for `audience`; rejects with a message saying why not. */
  token(egress: Egress, audience: string): Promise<string>;
}

interface Cached {
  readonly token: string;
  /** Reused until then (ms since epoch). */
  readonly until: number;
}

/** The controller's token route, next to the contract it serves (`<admin url>/contract`). */
export function oidcTokensUrlOf(contractUrl: string): string {
  const url = new URL(contractUrl);
  url.pathname = url.pathname.replace(/\/contract\/?$/, '') + '/oidc-tokens';
  url.search = '';
  return url.toString();
}

/** Tokens from the controller's admin API. */
export class ControllerTokenSource implements TokenSource {
  /** Requests made to the controller, for tests. */
  requests = 0;
  private readonly cache = new Map<string, Promise<Cached>>();
  private readonly now: () => number;

  constructor(private readonly options: { readonly url: string; readonly adminToken?: (() => string | Promise<string>) | undefined; readonly now?: () => number }) {
    this.now = options.now ?? Date.now;
  }

  async token(egress: Egress, audience: string): Promise<string> {
    const key = `${egress.uid}\u0000${audience}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      const entry = await cached.catch(() => undefined);
      if (entry !== undefined && this.now() < entry.until) return entry.token;
      const latest = this.cache.get(key);
      if (latest !== undefined && latest !== cached) return (await latest).token;
    }
    const pending = this.fetch(egress.uid, audience);
    this.cache.set(key, pending);
    pending.catch(() => {
      if (this.cache.get(key) === pending) this.cache.delete(key);
    });
    return (await pending).token;
  }

  private async fetch(egressUid: string, audience: string): Promise<Cached> {
    this.requests++;
    const url = new URL(this.options.url);
    url.searchParams.set('egress', egressUid);
    url.searchParams.set('audience', audience);
    const fetchedAt = this.now();
    const adminToken = await this.options.adminToken?.();
    const response = await request(url, {
      method: 'GET',
      headers: adminToken === undefined ? {} : { authorization: `Bearer ${adminToken}` },
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) {
      let message = text.slice(0, 300);
      try {
        message = String((JSON.parse(text) as { message?: unknown }).message ?? message);
      } catch { /* not JSON: the text itself */ }
      throw new Error(`the controller gave no token for audience ${audience} (HTTP ${response.statusCode}: ${message})`);
    }
    const body = JSON.parse(text) as { token?: unknown; expiresAt?: unknown };
    const expiresAt = typeof body.expiresAt === 'string' ? Date.parse(body.expiresAt) : NaN;
    if (typeof body.token !== 'string' || body.token === '' || Number.isNaN(expiresAt)) throw new Error(`the controller's answer for audience ${audience} has no token and expiresAt`);
    return { token: body.token, until: fetchedAt + Math.max(0, expiresAt - fetchedAt) * 0.8 };
  }
}

/** Tokens from files, one per audience (standalone mode). */
export class FileTokenSource implements TokenSource {
  private readonly cache = new Map<string, Cached>();

  constructor(private readonly files: ReadonlyMap<string, string>, private readonly now: () => number = Date.now) {}

  async token(_egress: Egress, audience: string): Promise<string> {
    const cached = this.cache.get(audience);
    if (cached !== undefined && this.now() < cached.until) return cached.token;
    const file = this.files.get(audience);
    if (file === undefined) throw new Error(`no token file is configured for audience ${audience} (oidcTokenFiles)`);
    let token: string;
    try {
      token = (await readFile(file, 'utf8')).trim();
    } catch (error) {
      throw new Error(`the token file ${file} for audience ${audience} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
    }
    if (token === '') throw new Error(`the token file ${file} for audience ${audience} is empty`);
    this.cache.set(audience, { token, until: this.now() + 10_000 });
    return token;
  }
}

/** The audience of the destination `url` is, for this egress: its subscriber's or its dead-letter sink's. */
export function audienceOf(resource: Resource, egress: Egress, url: string): string | undefined {
  const auth = egress.auth;
  if (auth === undefined) return undefined;
  if (url === egress.destination) return auth.destinationAudience;
  if (auth.deadLetterAudience !== undefined && url === effectiveEgressConfig(resource, egress)?.deadLetter) return auth.deadLetterAudience;
  return undefined;
}

/**
 * A sender that adds the egress's token for the destination's audience. `route` is read at each
 * attempt, so a contract update (an audience added or changed) applies to the next one.
 */
export function tokenSender(inner: Sender, route: () => { readonly resource: Resource; readonly egress: Egress }, tokens: TokenSource | undefined): Sender {
  // Not async on the way through: without an audience the inner send's promise is returned as it is.
  return {
    send: (message: HttpRequest, timeoutMs: number, signal?: AbortSignal): Promise<AttemptResult> => {
      const { resource, egress } = route();
      const audience = audienceOf(resource, egress, message.url);
      if (audience === undefined) return inner.send(message, timeoutMs, signal);
      return sendWithToken(inner, tokens, egress, audience, message, timeoutMs, signal);
    },
  };
}

async function sendWithToken(
  inner: Sender, tokens: TokenSource | undefined, egress: Egress, audience: string, message: HttpRequest, timeoutMs: number, signal: AbortSignal | undefined,
): Promise<AttemptResult> {
  if (tokens === undefined) return { kind: 'network', message: `${message.url} needs an OIDC token for audience ${audience}, and this dispatcher has no token source` };
  let token: string;
  try {
    token = await tokens.token(egress, audience);
  } catch (error) {
    return { kind: 'network', message: `no OIDC token for audience ${audience}: ${(error as Error).message}` };
  }
  return inner.send({ ...message, headers: { ...message.headers, authorization: `Bearer ${token}` } }, timeoutMs, signal);
}
