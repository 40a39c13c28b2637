import { z } from 'zod';
import { portSchema } from '../core/config.js';

const KiB = 1024;
const MiB = 1024 * KiB;

const count = () => z.coerce.number().int().positive();

/**
 * The ingress's configuration. Every bound here is what keeps one client, or a crowd of them, from
 * stalling or exhausting the ingress; the defaults and why:
 *  - host 0.0.0.0: the ingress is a network service that producers on other hosts (other pods)
 *    reach, as Knative's ingress is; pass 127.0.0.1 to keep it on this machine (local development,
 *    tests).
 *  - port 8080: Knative's ingress port.
 *  - bodyLimitBytes 1 MiB: Kafka's default largest record (message.max.bytes is 1 MiB), so a body
 *    the ingress accepts is one a default topic accepts.
 */
/** The settings themselves, for tools that list them (bin/settings.ts derives the environment variables). */
export const ingressConfigFields = z
  .object({
    host: z.string().trim().min(1).default('0.0.0.0'),
    port: portSchema.default(8080),
    bodyLimitBytes: count().default(MiB),
    /** Seconds a producer is told to wait (Retry-After) when the log or a bound cannot take a write. */
    retryAfterSeconds: z.coerce.number().int().min(0).default(5),
    /**
     * Events accepted and not yet durable, over all brokers. Past it requests get 503 at once:
     * while Kafka is slow or down this bound, not the request rate, caps the ingress's memory.
     * A batch with more events than this can never be taken: 413.
     */
    maxInFlightEvents: count().default(10_000),
    /**
     * Bytes held for requests at once, from the first byte of a body until its events are durable
     * (the count above bounds events, not their size). 64 MiB: 64 bodies at the 1 MiB limit, or
     * tens of thousands of typical events of a few KiB; it keeps the ingress's memory (bodies,
     * their decoded events and the produce request, about 2-3x the bytes held) within a few
     * hundred MB. Large bodies (over 64 KiB, or of unknown length) share 3/4 of it; the rest is
     * kept for small events, so slow large uploads cannot shut ordinary producers out. Past it 503.
     */
    maxBufferedBytes: count().default(64 * MiB),
    /**
     * The whole request, headers and body, must arrive within this, else 408 and the connection
     * closes. 30 s: a 1 MiB body needs 4 s even at 2 Mbit/s; a client slower than that holds
     * budget and a connection for nothing. The log's own wait is not counted (it starts once the
     * body is in).
     */
    requestTimeoutMs: count().default(30_000),
    /**
     * The headers must arrive within this, else 408. 10 s (or requestTimeoutMs, if shorter):
     * headers are at most 16 KiB, which any live client sends in well under a second; a
     * connection that sends nothing is closed too. On the HTTPS port it bounds the TLS handshake
     * as well (Node's default there is 120 s).
     */
    headersTimeoutMs: count().optional(),
    /**
     * An idle keep-alive connection is closed after this. 65 s: just over the 60 s idle timeout
     * of the proxies and load balancers usually in front of an ingress, so that they, not we,
     * close an idle connection (whoever closes first can race a request sent on it). An idle
     * connection costs a socket and a few KiB; maxConnections bounds how many there are.
     */
    keepAliveTimeoutMs: count().default(65_000),
    /**
     * Connections open at once; past it new connections are closed as they are accepted. 4096:
     * hundreds of producers each with a pool of connections, while all of them idle cost tens of
     * MB at most, and it stays under the usual file-descriptor limits (often 65536, rarely 1024).
     */
    maxConnections: count().default(4096),
    /**
     * The largest Kafka record an event may become (value, key and headers); a larger event gets
     * 413 before it is appended, on either log. 2 MiB: the `max.message.bytes` of the topics the
     * broker creates (core/event-log/kafka/admin.ts). A topic with a smaller limit answers
     * MESSAGE_TOO_LARGE, which is a 413 as well.
     */
    maxRecordBytes: count().default(2 * MiB),
    /**
     * Distinct CloudEvents types that get their own `cloudevents_type` label value in the metrics;
     * later ones are counted as `other`, so producers cannot grow the series without bound.
     */
    metricsMaxEventTypes: z.coerce.number().int().min(0).default(50),
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
        /** The least time between two JWKS reads that an unknown `kid` triggers (jose's cooldown; default 30 s). */
        jwksCooldownMs: z.coerce.number().int().min(0).optional(),
        /** How long the JWKS is used before it is read again (default 10 min): how late a removed key stops verifying. */
        jwksCacheMaxAgeMs: z.coerce.number().int().min(0).optional(),
      })
      .strict()
      .optional(),
  });

export const ingressConfigSchema = ingressConfigFields
  .refine((config) => config.headersTimeoutMs === undefined || config.headersTimeoutMs <= config.requestTimeoutMs, {
    message: 'headersTimeoutMs must not be longer than requestTimeoutMs (the headers are part of the request)',
    path: ['headersTimeoutMs'],
  })
  .transform((config) => ({ ...config, headersTimeoutMs: config.headersTimeoutMs ?? Math.min(10_000, config.requestTimeoutMs) }));

export type IngressConfig = z.infer<typeof ingressConfigSchema>;

/** Cross-field rules the schema cannot say (it stays a plain object for the settings list). */
export function ingressConfigProblem(config: IngressConfig): string | undefined {
  if (!config.plainHttp && config.tls === undefined) return 'plain HTTP can only be turned off when HTTPS is configured (--tls-cert and --tls-key)';
  return undefined;
}
