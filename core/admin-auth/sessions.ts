import { randomBytes } from 'node:crypto';

/**
 * Login sessions of the admin pages (a browser cannot send a bearer header when it navigates).
 * A session holds the token it was opened with, so that a token that stops being valid (revoked,
 * rotated) ends its sessions too, and a CSRF token that the page sends back with each POST.
 * In memory: a restart logs everyone out, which is acceptable for an operator's page.
 */

export interface AdminSession {
  readonly id: string;
  readonly csrf: string;
  readonly token: string;
  readonly expiresAt: number;
}

export interface SessionStoreOptions {
  readonly ttlMs?: number;
  /** Sessions kept at most; the oldest goes first. */
  readonly max?: number;
  readonly now?: () => number;
}

export class SessionStore {
  private readonly sessions = new Map<string, AdminSession>();
  private readonly ttlMs: number;
  private readonly max: number;
  private readonly now: () => number;

  constructor(options: SessionStoreOptions = {}) {
    this.ttlMs = options.ttlMs ?? 8 * 3600_000;
    this.max = options.max ?? 1000;
    this.now = options.now ?? Date.now;
  }

  get maxAgeSeconds(): number {
    return Math.floor(this.ttlMs / 1000);
  }

  open(token: string): AdminSession {
    const session: AdminSession = { id: randomToken(), csrf: randomToken(), token, expiresAt: this.now() + this.ttlMs };
    this.sessions.set(session.id, session);
    while (this.sessions.size > this.max) this.sessions.delete(this.sessions.keys().next().value!);
    return session;
  }

  get(id: string | undefined): AdminSession | undefined {
    if (id === undefined) return undefined;
    const session = this.sessions.get(id);
    if (session === undefined) return undefined;
    if (session.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return session;
  }

  close(id: string): void {
    this.sessions.delete(id);
  }
}

/** 256 random bits, URL-safe. */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}
