import { z } from 'zod';
import { loadConfig, type Env } from '../core/config.js';
import { KAFKA_BROKER_CLASS } from './resources.js';
import type { ReconcileSettings } from './state.js';

/**
 * The controller's settings, validated once at start-up (core/config.ts). Durations are in ms.
 * Only `manifestsDir` and `ingressUrl` have no default.
 */
const millis = z.coerce.number().int().min(0);

export const controllerConfigSchema = z
  .object({
    /** The folder of manifests (the manifests source). */
    manifestsDir: z.string().min(1),
    /** Base URL of the ingress: brokers' addresses are this plus `/<namespace>/<name>`. */
    ingressUrl: z.string().url(),
    /** Partitions of a broker's topic unless its `spec.config` ConfigMap says otherwise (Knative Kafka: default.topic.partitions). */
    topicPartitions: z.coerce.number().int().min(1).default(10),
    /** Replication factor of a broker's topic (default.topic.replication.factor); 1 suits a single local Kafka. */
    topicReplicationFactor: z.coerce.number().int().min(1).default(1),
    /** Class of a Broker without the `eventing.knative.dev/broker.class` annotation (Knative: config-br-defaults). */
    defaultBrokerClass: z.string().min(1).default(KAFKA_BROKER_CLASS),
    /**
     * A Broker's `spec.delivery` when it has none, as Knative's config-br-defaults ships it:
     * ten retries, exponential backoff from 0.2 s. Written the Knative way (ISO 8601 durations).
     */
    brokerDelivery: z.record(z.unknown()).default({ retry: 10, backoffPolicy: 'exponential', backoffDelay: 'PT0.2S' }),
    /** Backoff delay for delivery settings that give a retry count but no delay. */
    defaultBackoffDelayMs: millis.default(200),
    /** Quiet time after a change in the folder before it is read again. */
    debounceMs: millis.default(150),
    /** How often the folder's files are checked when no watch event came. */
    pollMs: z.coerce.number().int().min(50).default(1000),
    /** First and largest delay before a pass that left work undone (Kafka down) is retried. */
    retryMinMs: z.coerce.number().int().min(10).default(1000),
    retryMaxMs: z.coerce.number().int().min(10).default(30_000),
    /** How long a removed trigger's group and a removed broker's topic are kept while the data plane lets go. */
    deleteGraceMs: millis.default(1000),
    /** The Kafka cluster the event log writes to (empty: the in-memory log); KafkaSinks must name it. */
    kafkaBootstrapServers: z.array(z.string().min(1)).default([]),
    /** Knative's `authentication-oidc` feature: brokers get an audience and the ingress asks for tokens. */
    authenticationOidc: z.enum(['enabled', 'disabled']).default('disabled'),
    /** Knative's `default-authorization-mode`: who may send to a broker no EventPolicy selects. */
    defaultAuthorizationMode: z.enum(['allow-same-namespace', 'allow-all', 'deny-all']).default('allow-same-namespace'),
    /** The ingress's HTTPS base URL, when it serves HTTPS: brokers' addresses become https. */
    ingressHttpsUrl: z.string().url().optional(),
    /** PEM CA certificate(s) of the ingress's HTTPS certificate, shown as `status.address.CACerts`. */
    ingressCaCerts: z.string().min(1).optional(),
  })
  .strict();

export type ControllerConfig = Readonly<z.infer<typeof controllerConfigSchema>>;

/** Reads the controller's settings from flags (given) and environment variables (only main.ts passes process.env). */
/** The CONTROLLER_* settings both modes read from the environment (unset or empty: the default). */
export function controllerEnv(env: Env): Record<string, string | undefined> {
  const pick = (name: string): string | undefined => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  return {
    topicPartitions: pick('CONTROLLER_TOPIC_PARTITIONS'),
    topicReplicationFactor: pick('CONTROLLER_TOPIC_REPLICATION_FACTOR'),
    defaultBrokerClass: pick('CONTROLLER_DEFAULT_BROKER_CLASS'),
    authenticationOidc: pick('CONTROLLER_AUTHENTICATION_OIDC'),
    defaultAuthorizationMode: pick('CONTROLLER_DEFAULT_AUTHORIZATION_MODE'),
    ingressHttpsUrl: pick('CONTROLLER_INGRESS_HTTPS_URL'),
    ingressCaCerts: pick('CONTROLLER_INGRESS_CA_CERTS'),
  };
}

export function controllerConfigFrom(given: { manifestsDir: string; ingressUrl: string; kafkaBootstrapServers?: readonly string[] }, env: Env): ControllerConfig {
  return loadConfig(controllerConfigSchema, { ...given, ...controllerEnv(env) });
}

/** The core's settings; the manifests source's own fields are not needed (the Kubernetes mode has none). */
export function reconcileSettings(config: Omit<ControllerConfig, 'manifestsDir' | 'debounceMs' | 'pollMs'> & { readonly systemNamespace?: string }): ReconcileSettings {
  return {
    ...(config.systemNamespace === undefined ? {} : { systemNamespace: config.systemNamespace }),
    ingressUrl: config.ingressUrl,
    topicPartitions: config.topicPartitions,
    topicReplicationFactor: config.topicReplicationFactor,
    defaultBackoffDelayMs: config.defaultBackoffDelayMs,
    admission: { brokerClass: config.defaultBrokerClass, brokerDelivery: config.brokerDelivery },
    kafkaBootstrapServers: config.kafkaBootstrapServers,
    ...(config.authenticationOidc === 'enabled' ? { oidc: { defaultMode: config.defaultAuthorizationMode } } : {}),
    ...(config.ingressHttpsUrl === undefined
      ? {}
      : { ingressHttps: { url: config.ingressHttpsUrl, ...(config.ingressCaCerts === undefined ? {} : { caCerts: config.ingressCaCerts }) } }),
  };
}
