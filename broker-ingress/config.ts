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
   * Distinct CloudEvents types that get their own `cloudevents_type` label value in the metrics;
   * later ones are counted as `other`, so producers cannot grow the series without bound.
   */
  metricsMaxEventTypes: z.coerce.number().int().min(0).default(50),
});

export type IngressConfig = z.infer<typeof ingressConfigSchema>;
