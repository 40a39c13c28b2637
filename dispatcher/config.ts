import { z } from 'zod';
import { loadConfig, type Env } from '../core/config.js';
import { BrokerError } from '../core/errors.js';
import { QUARANTINE_TOPIC } from './quarantine.js';

/**
 * The dispatcher's settings, validated once at start-up (core/config.ts). Every value has a
 * default, so `dispatcherConfigSchema.parse({})` is a working configuration. Durations are in ms.
 */
const millis = z.coerce.number().int().min(0);
const positiveMillis = z.coerce.number().int().min(1);

export const dispatcherConfigSchema = z
  .object({
    /**
     * Records handed out and not yet done, per egress. In `unordered` mode this is also how many
     * deliveries run at once; in `ordered` mode it is how far ahead the partitions' queues may
     * read. The event-log adapter stops fetching at this bound: it is what caps memory under lag.
     */
    maxInFlightPerEgress: z.coerce.number().int().min(1).max(10_000).default(50),
    /** Per-attempt HTTP timeout when the egress's delivery settings give none (Knative: none). */
    defaultTimeoutMs: positiveMillis.default(30_000),
    /** How long `close()` lets in-flight deliveries finish before abandoning them (uncommitted). */
    shutdownDeadlineMs: millis.default(30_000),
    /** How often each egress commits its done prefix (also committed on revocation and close). */
    commitIntervalMs: positiveMillis.default(1_000),
    /**
     * Cap of the backoff between rounds for an event that can be neither delivered nor
     * dead-lettered (never dropped, retried until someone takes it).
     */
    maxStallBackoffMs: positiveMillis.default(60_000),
    /** First backoff of such a stalled event; it doubles each round up to `maxStallBackoffMs`. */
    stallBackoffBaseMs: positiveMillis.default(1_000),
    /** At most one "event stalled" warning per egress per this many ms. */
    stallWarnIntervalMs: positiveMillis.default(10_000),
    /**
     * Upper bound on a `Retry-After` wait, whatever a trigger's `retryAfterMax` says (a trigger may
     * only lower it). Knative's Kafka broker ignores Retry-After altogether and Knative's core
     * dispatcher caps it only by the trigger's own `retryAfterMax`; here a waiting event holds an
     * in-flight slot and its bytes, so one subscriber must not park events for days. 5 min covers
     * the usual rate-limit windows (per second, per minute) and maintenance 503s.
     */
    maxRetryAfterMs: positiveMillis.default(5 * 60_000),
    /**
     * Bound on the memory held by deliveries that are waiting (retry backoff, Retry-After, held
     * events): their record bytes plus the response bytes kept for `knativeerrordata`, summed
     * over every egress. Past it every egress stops taking new records (nothing is dropped or
     * failed) and resumes once it is below 80 % again. 256 MiB is an eighth of the dispatcher's
     * memory limit in deploy/base/40-data-plane.yaml, leaving the rest to deliveries in progress.
     */
    maxWaitingBytes: z.coerce.number().int().min(1024).default(256 * 1024 * 1024),
    /** Largest response body read from a subscriber (a reply event); larger replies fail. */
    maxResponseBytes: z.coerce.number().int().min(1024).default(4 * 1024 * 1024),
    /** Keep-alive connections per destination origin (undici pool size). */
    connectionsPerOrigin: z.coerce.number().int().min(1).default(128),
    /**
     * PEM file of CA certificates trusted, besides the public ones, when delivering to https
     * subscribers and sinks (Knative's transport encryption: the cluster's CA).
     */
    trustedCaFile: z.string().min(1).optional(),
    /**
     * Standalone OIDC: a token file per audience (`{"<audience>": "<file>"}`), presented to
     * destinations with that audience. In Kubernetes mode the controller issues the tokens.
     */
    oidcTokenFiles: z.record(z.string().min(1), z.string().min(1)).optional(),
    /** How long a failing egress (e.g. its topic does not exist yet) waits before starting again. */
    egressRestartBackoffMs: positiveMillis.default(5_000),
    /**
     * Where records that are not CloudEvents go when their egress has no dead-letter sink (or
     * the sink fails): see quarantine.ts. Created on first use, with this replication factor.
     */
    quarantineTopic: z.string().min(1).max(249).regex(/^[a-zA-Z0-9._-]+$/, 'a Kafka topic name: letters, digits, ".", "_" and "-"').default(QUARANTINE_TOPIC),
    quarantineReplicationFactor: z.coerce.number().int().min(1).default(1),
  })
  .strict();

export type DispatcherConfig = Readonly<z.infer<typeof dispatcherConfigSchema>>;

/** Reads the dispatcher's settings from environment variables (only main.ts passes process.env). */
export function dispatcherConfigFromEnv(env: Env): DispatcherConfig {
  const pick = (name: string): string | undefined => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  const json = (name: string): unknown => {
    const raw = pick(name);
    if (raw === undefined) return undefined;
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      throw new BrokerError('CONFIG_INVALID', `${name} must be JSON, e.g. {"<audience>": "<token file>"}`);
    }
  };
  return loadConfig(dispatcherConfigSchema, {
    maxInFlightPerEgress: pick('DISPATCHER_MAX_IN_FLIGHT_PER_EGRESS'),
    defaultTimeoutMs: pick('DISPATCHER_DEFAULT_TIMEOUT_MS'),
    shutdownDeadlineMs: pick('DISPATCHER_SHUTDOWN_DEADLINE_MS'),
    commitIntervalMs: pick('DISPATCHER_COMMIT_INTERVAL_MS'),
    maxStallBackoffMs: pick('DISPATCHER_MAX_STALL_BACKOFF_MS'),
    stallBackoffBaseMs: pick('DISPATCHER_STALL_BACKOFF_BASE_MS'),
    stallWarnIntervalMs: pick('DISPATCHER_STALL_WARN_INTERVAL_MS'),
    maxRetryAfterMs: pick('DISPATCHER_MAX_RETRY_AFTER_MS'),
    maxWaitingBytes: pick('DISPATCHER_MAX_WAITING_BYTES'),
    maxResponseBytes: pick('DISPATCHER_MAX_RESPONSE_BYTES'),
    connectionsPerOrigin: pick('DISPATCHER_CONNECTIONS_PER_ORIGIN'),
    trustedCaFile: pick('DISPATCHER_TRUSTED_CA_FILE'),
    oidcTokenFiles: json('DISPATCHER_OIDC_TOKEN_FILES'),
    egressRestartBackoffMs: pick('DISPATCHER_EGRESS_RESTART_BACKOFF_MS'),
    quarantineTopic: pick('DISPATCHER_QUARANTINE_TOPIC'),
    quarantineReplicationFactor: pick('DISPATCHER_QUARANTINE_REPLICATION_FACTOR'),
  });
}
