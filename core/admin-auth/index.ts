/**
 * The admin API's protection (see guard.ts): authentication by bearer token or login session,
 * authorization, and cross-site / DNS-rebinding checks on every route.
 *
 *   types.ts         AdminAuth: what an authentication scheme provides
 *   static-token.ts  standalone mode: one token
 *   hosts.ts         pure checks of listen addresses, Host and Origin
 *   sessions.ts      login sessions with their CSRF token
 *   login-page.ts    the login page
 *   guard.ts         the fastify hook and the /login, /logout routes
 */
export { adminIdentityOf, csrfTokenOf, CSRF_HEADER, registerAdminGuard, type AdminGuardOptions } from './guard.js';
export { exposureProblem, hostAllowed, isLoopbackHost, sameOrigin } from './hosts.js';
export { SessionStore } from './sessions.js';
export { staticTokenAuth } from './static-token.js';
export type * from './types.js';
