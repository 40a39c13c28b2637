import { z } from 'zod';
import { loadConfig, type Env } from '../../core/config.js';
import { controllerConfigSchema, controllerEnv } from '../config.js';

/**
 * The Kubernetes-mode controller's settings: the core's (config.ts, less the manifests folder),
 * plus where it runs, how it elects a leader and how it talks to the API server. Durations in ms.
 *
 * Leader election defaults are client-go's (15 s lease, 10 s renew deadline, 2 s retry): a
 * standby takes over at most ~17 s after the leader dies; tests shorten them.
 */
const millis = z.coerce.number().int().min(0);
const positiveMillis = z.coerce.number().int().min(1);

export const kubernetesControllerConfigSchema = controllerConfigSchema
  .omit({ manifestsDir: true, debounceMs: true, pollMs: true, ingressUrl: true })
  .extend({
    /** The namespace the controller runs in: its Lease, and the ConfigMaps Brokers' `spec.config` name. */
    systemNamespace: z.string().min(1).default('knative-eventing'),
    /** Kubernetes Services resolve to `http://<name>.<namespace>.svc.<clusterDomain>`. */
    clusterDomain: z.string().min(1).default('cluster.local'),
    /** The ingress's base URL; by default its Service in `systemNamespace` (as Knative Kafka's). */
    ingressUrl: z.string().url().optional(),
    leaderElection: z.boolean().default(true),
    leaseName: z.string().min(1).default('kafka-broker-controller'),
    /** Unique per replica; `<hostname>-<random>` by default. */
    identity: z.string().min(1).optional(),
    leaseDurationMs: positiveMillis.default(15_000),
    renewDeadlineMs: positiveMillis.default(10_000),
    retryPeriodMs: positiveMillis.default(2_000),
    /** Status and finalizer writes to the API server in flight at once. */
    writers: z.coerce.number().int().min(1).max(256).default(16),
    /** How often referenced Services and Addressables are read again. */
    addressRefreshMs: positiveMillis.default(30_000),
    /** How often the ConfigMaps in use (Brokers' `spec.config`, kafka-channel-config) are read again (a GET each). */
    configMapRefreshMs: positiveMillis.default(10_000),
    /** How long a Secret read for Kafka credentials is reused before it is read again (rotation applies after at most this). */
    secretCacheMs: millis.default(5_000),
    /** How often a kind whose CRD is not installed is looked for again. */
    notInstalledRetryMs: positiveMillis.default(30_000),
    /** Quiet time after a burst of watch events before a reconcile pass. */
    eventDebounceMs: millis.default(20),
    /**
     * The audiences a token for the admin API must be meant for (TokenReview); empty: the API
     * server's own. deploy/ gives the data plane tokens for `kafka-broker-controller` only.
     */
    adminTokenAudiences: z.array(z.string().min(1)).default([]),
    /** The admin API's Service, whose DNS names its Host header may carry (DNS-rebinding protection). */
    adminServiceName: z.string().min(1).default('kafka-broker-controller'),
  })
  .strict()
  .refine((c) => c.retryPeriodMs < c.renewDeadlineMs && c.renewDeadlineMs < c.leaseDurationMs, {
    message: 'leader election needs retryPeriodMs < renewDeadlineMs < leaseDurationMs',
  });

export type KubernetesControllerConfig = Readonly<z.infer<typeof kubernetesControllerConfigSchema>>;

/** The ingress URL brokers get as their address. */
export const ingressUrlOf = (config: KubernetesControllerConfig): string =>
  config.ingressUrl ?? `http://kafka-broker-ingress.${config.systemNamespace}.svc.${config.clusterDomain}`;

/** The names the admin API is reached by inside the cluster: its Service's DNS names. */
export const adminHostNamesOf = (config: KubernetesControllerConfig): string[] => {
  const service = `${config.adminServiceName}.${config.systemNamespace}`;
  return [config.adminServiceName, service, `${service}.svc`, `${service}.svc.${config.clusterDomain}`];
};

/** Settings from flags (given) over environment variables (only bin/ passes process.env). */
export function kubernetesControllerConfigFrom(given: Record<string, unknown>, env: Env): KubernetesControllerConfig {
  const pick = (name: string): string | undefined => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  const fromEnv: Record<string, unknown> = {
    // Knative's components read their namespace from SYSTEM_NAMESPACE (set from the pod's metadata).
    systemNamespace: pick('SYSTEM_NAMESPACE'),
    ...controllerEnv(env),
    identity: pick('POD_NAME'),
  };
  const defined = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  return loadConfig(kubernetesControllerConfigSchema, { ...defined(fromEnv), ...defined(given) });
}
