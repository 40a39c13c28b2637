import { isIP } from 'node:net';

/**
 * Where a replay may send dead letters when the request names the address (`to`): an http(s)
 * URL that is not this broker's own admin API or ingress. Replaying into the admin API would
 * let a replay trigger more admin requests; into the ingress, it would put dead letters back on
 * the broker for every trigger instead of the one they failed for.
 */

export interface OwnAddresses {
  /** The base URLs this process serves (admin API, ingress). */
  readonly urls: readonly string[];
  /** Other names and addresses of this machine (its host name, its interfaces' addresses). */
  readonly localHosts: readonly string[];
}

/** Why `to` may not be a replay's destination, or undefined when it may. */
export function replayTargetProblem(to: string, own: OwnAddresses): string | undefined {
  let url: URL;
  try {
    url = new URL(to);
  } catch {
    return `to must be an absolute http or https URL, got "${to}"`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `to must be an absolute http or https URL, got "${to}"`;
  const host = unbracket(url.hostname.toLowerCase());
  const port = portOf(url);
  for (const base of own.urls) {
    const mine = new URL(base);
    if (portOf(mine) !== port) continue;
    const myHost = unbracket(mine.hostname.toLowerCase());
    if (host === myHost || isThisMachine(host, own.localHosts)) {
      return `to may not be the broker's own admin API or ingress (${base}); give a subscriber's URL`;
    }
  }
  return undefined;
}

function isThisMachine(host: string, localHosts: readonly string[]): boolean {
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4 && (host.startsWith('127.') || host === '0.0.0.0')) return true;
  if (host === '::1' || host === '::' || host === '::ffff:127.0.0.1') return true;
  return localHosts.some((h) => unbracket(h.toLowerCase()) === host);
}

function portOf(url: URL): string {
  return url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
