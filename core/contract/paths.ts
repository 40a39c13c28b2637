/**
 * The one place the ingress URL shapes live.
 *   Broker:   /<namespace>/<name>
 *   Channel:  /channels/<namespace>/<name>
 *   KafkaSink: /sinks/<namespace>/<name>
 * Kubernetes names are DNS labels, so `channels` and `sinks` cannot clash with a broker path of
 * two segments.
 */
export const brokerPath = (namespace: string, name: string): string => `/${namespace}/${name}`;
export const channelPath = (namespace: string, name: string): string => `/channels/${namespace}/${name}`;
export const sinkPath = (namespace: string, name: string): string => `/sinks/${namespace}/${name}`;

export const brokerTopic = (namespace: string, name: string): string => `knative-broker-${namespace}-${name}`;
export const channelTopic = (namespace: string, name: string): string => `knative-messaging-kafka.${namespace}.${name}`;
export const triggerGroup = (namespace: string, name: string): string => `knative-trigger-${namespace}-${name}`;
export const subscriptionGroup = (namespace: string, channel: string, subscription: string): string =>
  `kafka.${namespace}.${channel}.${subscription}`;

/**
 * OIDC audiences, as Knative names them (`status.address.audience`): a token for one broker is
 * not accepted by another.
 */
export const brokerAudience = (namespace: string, name: string): string => `eventing.knative.dev/broker/${namespace}/${name}`;
export const channelAudience = (namespace: string, name: string): string => `messaging.knative.dev/kafkachannel/${namespace}/${name}`;
export const sinkAudience = (namespace: string, name: string): string => `eventing.knative.dev/kafkasink/${namespace}/${name}`;
