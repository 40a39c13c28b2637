import { z } from 'zod';
import { portSchema } from '../core/config.js';

/**
 * The ingress's configuration. Defaults:
 *  - host 0.0.0.0: the ingress is a network service that producers on other hosts (other pods)
 *    reach, as Knative's ingress is; pass 127.0.0.1 to keep it on this machine (local development,
 *    tests).
 *  - port 8080: Knative's ingress port.
 *  - bodyLimitBytes 1 MiB: Kafka's default largest record (message.max.bytes is 1 MiB), so a body
 *    the ingress accepts is one the log accepts.
 */
export const ingressConfigSchema = z.object({
  host: z.string().trim().min(1).default('0.0.0.0'),
  port: portSchema.default(8080),
  bodyLimitBytes: z.coerce.number().int().positive().default(1024 * 1024),
  /** Seconds a producer is told to wait (Retry-After) when the log cannot take a write. */
  retryAfterSeconds: z.coerce.number().int().min(0).default(5),
  /**
   * Events accepted and not yet durable, over all brokers. Past it requests get 503 at once:
   * while Kafka is slow or down this bound, not the request rate, caps the ingress's memory.
   */
  maxInFlightEvents: z.coerce.number().int().positive().default(10_000),
  /**
   * HTTPS, as Knative's transport encryption: PEM files, read again when they change. Port 8443 is
   * Knative's ingress HTTPS port.
   */
  tls: z
    .object({
      certFile: z.string().trim().min(1),
      keyFile: z.string().trim().min(1),
      port: portSchema.default(8443),
    })
    .strict()
    .optional(),
  /** Plain HTTP on `port`; turned off, only HTTPS is served (and `tls` is then required). */
  plainHttp: z
    .union([z.boolean(), z.enum(['true', 'false']).transform((value) => value === 'true')])
    .default(true),
  /** Sender authentication (OIDC); absent: requests need no token. */
  oidc: z
    .object({
      /** The `iss` the tokens must carry, e.g. https://kubernetes.default.svc.cluster.local. */
      issuer: z.string().url(),
      /** Where the discovery document is read; default `<issuer>/.well-known/openid-configuration`. */
      discoveryUrl: z.string().url().optional(),
      /** PEM CA(s) trusted for the discovery document and the JWKS (the API server's CA in a cluster). */
      caFile: z.string().min(1).optional(),
      /** A bearer token file for reading them (the pod's service-account token: the API server asks for one). */
      tokenFile: z.string().min(1).optional(),
    })
    .strict()
    .optional(),
});

export type IngressConfig = z.infer<typeof ingressConfigSchema>;

/** Cross-field rules the schema cannot say (it stays a plain object for the settings list). */
export function ingressConfigProblem(config: IngressConfig): string | undefined {
  if (!config.plainHttp && config.tls === undefined) return 'plain HTTP can only be turned off when HTTPS is configured (--tls-cert and --tls-key)';
  return undefined;
}
