/**
 * What the admin API's guard (guard.ts) needs from an authentication scheme: a bearer token in
 * standalone mode (static-token.ts), the caller's ServiceAccount token checked by the API server in
 * Kubernetes mode (controller/kubernetes/admin-auth.ts).
 */

export interface AdminIdentity {
  readonly name: string;
  readonly groups: readonly string[];
  /** What the authenticator needs to authorize this identity again (Kubernetes: uid, extra). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** One request to the admin API, as authorization sees it. */
export interface AdminAction {
  /** The HTTP method, upper case. */
  readonly method: string;
  /** The request path, without the query string. */
  readonly path: string;
}

export interface AdminAuth {
  /** For the start-up line and logs, e.g. "bearer token" or "Kubernetes TokenReview". */
  readonly description: string;
  /** Who holds `token`, or undefined when it is not valid. */
  authenticate(token: string): Promise<AdminIdentity | undefined>;
  /** Whether `identity` may do `action`. */
  authorize(identity: AdminIdentity, action: AdminAction): Promise<boolean>;
}
