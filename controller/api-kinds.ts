/**
 * The kinds the admin API serves, by their Kubernetes names, so that paths look like the API
 * server's (`/apis/<group>/<version>/namespaces/<ns>/<plural>`). A kind is served once it has a row here.
 * What the controller does with each kind (admission, reconciling) is in kinds/<kind>.ts.
 */
export interface KindInfo {
  readonly kind: string;
  readonly plural: string;
  readonly singular: string;
  /** '' for the core group (`/api/v1/...`). */
  readonly group: string;
  readonly version: string;
}

export const KINDS: readonly KindInfo[] = [
  { kind: 'Broker', plural: 'brokers', singular: 'broker', group: 'eventing.knative.dev', version: 'v1' },
  { kind: 'Trigger', plural: 'triggers', singular: 'trigger', group: 'eventing.knative.dev', version: 'v1' },
  { kind: 'KafkaSink', plural: 'kafkasinks', singular: 'kafkasink', group: 'eventing.knative.dev', version: 'v1alpha1' },
  { kind: 'ConfigMap', plural: 'configmaps', singular: 'configmap', group: '', version: 'v1' },
  { kind: 'Channel', plural: 'channels', singular: 'channel', group: 'messaging.knative.dev', version: 'v1' },
  { kind: 'Subscription', plural: 'subscriptions', singular: 'subscription', group: 'messaging.knative.dev', version: 'v1' },
  // v1beta1 is KafkaChannel's storage version in eventing-kafka-broker (v1 is served by conversion).
  { kind: 'KafkaChannel', plural: 'kafkachannels', singular: 'kafkachannel', group: 'messaging.knative.dev', version: 'v1beta1' },
  { kind: 'InMemoryChannel', plural: 'inmemorychannels', singular: 'inmemorychannel', group: 'messaging.knative.dev', version: 'v1' },
  { kind: 'EventPolicy', plural: 'eventpolicies', singular: 'eventpolicy', group: 'eventing.knative.dev', version: 'v1alpha1' },
  // v1beta1 is KafkaSource's storage version in eventing-kafka-broker too (v1 is served alike).
  { kind: 'KafkaSource', plural: 'kafkasources', singular: 'kafkasource', group: 'sources.knative.dev', version: 'v1beta1' },
];

export const apiVersionOf = (info: KindInfo): string => (info.group === '' ? info.version : `${info.group}/${info.version}`);

/** The collection path of a kind, in one namespace or (namespace undefined) all of them. */
export function collectionPath(info: KindInfo, namespace?: string): string {
  const root = info.group === '' ? `/api/${info.version}` : `/apis/${info.group}/${info.version}`;
  return namespace === undefined ? `${root}/${info.plural}` : `${root}/namespaces/${namespace}/${info.plural}`;
}
