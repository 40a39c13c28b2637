import { isIP } from 'node:net';

/**
 * Pure checks on addresses and the Host / Origin headers: what DNS-rebinding and cross-site
 * protection of the admin API (guard.ts) decide with.
 */

/** Whether a listen address (or a URL's host name) is loopback only. */
export function isLoopbackHost(host: string): boolean {
  const h = unbracket(host.trim().toLowerCase());
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1' || h === '0:0:0:0:0:0:0:1';
}

/**
 * Why the admin API may not listen on `host`, or undefined: anywhere but loopback it needs
 * authentication, since anyone who can reach the port could otherwise read event bodies and
 * replay dead letters.
 */
export function exposureProblem(host: string, authenticated: boolean): string | undefined {
  if (authenticated || isLoopbackHost(host)) return undefined;
  return `the admin API would listen on ${host} without authentication; listen on 127.0.0.1 (the default) or give it a token`;
}

/** The host name of a Host header (without port or brackets), lower case; undefined when malformed. */
export function hostNameOf(header: string | undefined): string | undefined {
  if (header === undefined || header === '' || /[\s/@?#\\]/.test(header)) return undefined;
  const bracketed = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/i.exec(header);
  if (bracketed !== null) return bracketed[1]!.toLowerCase();
  const match = /^([a-z0-9.-]+)(?::\d{1,5})?$/i.exec(header);
  return match === null ? undefined : match[1]!.toLowerCase();
}

/**
 * Whether a request's Host header names this server. A DNS-rebinding attack reaches the admin
 * API under the attacker's domain name, so a name must be one we know (`localhost`, or one of
 * `names`: the host names the admin API was configured with). An IP literal cannot be rebound:
 * a page served from that address is the address itself.
 */
export function hostAllowed(header: string | undefined, names: readonly string[]): boolean {
  const name = hostNameOf(header);
  if (name === undefined) return false;
  if (isIP(name) !== 0 || name === 'localhost') return true;
  return names.some((n) => n.toLowerCase() === name);
}

/** Whether an Origin header is this server's own origin (the page it served), given the request's Host. */
export function sameOrigin(origin: string, hostHeader: string | undefined): boolean {
  if (hostHeader === undefined || origin === 'null') return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  return url.host.toLowerCase() === hostHeader.toLowerCase();
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
