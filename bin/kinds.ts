/**
 * The kinds `get` and `describe` know, by the names typed on the command line, with the columns
 * of their `get` table (as `kubectl get` prints them).
 */
import { KINDS, type KindInfo } from '../controller/api-kinds.js';
import { closest } from '../core/suggest.js';
import { CliError } from './cli.js';
import { age, type Column, type ObjectLike } from './table.js';

export type { Column, ObjectLike } from './table.js';

export const ready = (o: ObjectLike) => o.status?.conditions?.find((c) => c.type === 'Ready');
const NAME: Column = { header: 'NAME', value: (o) => o.metadata.name };
const READY: Column = { header: 'READY', value: (o) => ready(o)?.status ?? '' };
const REASON: Column = { header: 'REASON', value: (o) => (ready(o)?.status === 'True' ? '' : ready(o)?.reason ?? '') };
/** Channels: how many of their Subscriptions are being delivered to, e.g. `2/3`. */
const SUBSCRIBERS: Column = {
  header: 'SUBSCRIBERS',
  value: (o) => `${(o.status?.subscribers ?? []).filter((s) => s.ready === 'True').length}/${(o.status?.subscribers ?? []).length}`,
};
const URL_COLUMN: Column = { header: 'URL', value: (o) => o.status?.address?.url ?? '' };
const AGE: Column = { header: 'AGE', value: (o, now) => (o.metadata.creationTimestamp ? age(now - Date.parse(o.metadata.creationTimestamp)) : '') };
/** `-o wide`: the Ready condition's message. */
export const MESSAGE: Column = { header: 'MESSAGE', value: (o) => (ready(o)?.status === 'True' ? '' : ready(o)?.message ?? '') };

/** The kinds `get` knows, with their names on the command line and their table columns. */
export interface GetKind {
  readonly names: readonly string[];
  readonly info: KindInfo;
  readonly columns: readonly Column[];
}

const info = (kind: string): KindInfo => KINDS.find((k) => k.kind === kind)!;

export const GET_KINDS: readonly GetKind[] = [
  {
    names: ['brokers', 'broker', 'brokers.eventing.knative.dev'],
    info: info('Broker'),
    columns: [NAME, READY, REASON, { header: 'URL', value: (o) => o.status?.address?.url ?? '' }, AGE],
  },
  {
    names: ['triggers', 'trigger', 'triggers.eventing.knative.dev'],
    info: info('Trigger'),
    columns: [
      NAME,
      { header: 'BROKER', value: (o) => (typeof o.spec?.['broker'] === 'string' ? o.spec['broker'] : '') },
      READY,
      REASON,
      { header: 'SUBSCRIBER', value: (o) => o.status?.subscriberUri ?? '' },
      AGE,
    ],
  },
  {
    names: ['kafkasinks', 'kafkasink', 'kafkasinks.eventing.knative.dev'],
    info: info('KafkaSink'),
    columns: [
      NAME,
      { header: 'TOPIC', value: (o) => (typeof o.spec?.['topic'] === 'string' ? o.spec['topic'] : '') },
      READY,
      REASON,
      { header: 'URL', value: (o) => o.status?.address?.url ?? '' },
      AGE,
    ],
  },
  {
    names: ['channels', 'channel', 'ch', 'channels.messaging.knative.dev'],
    info: info('Channel'),
    columns: [NAME, { header: 'BACKING', value: (o) => o.status?.channel?.kind ?? '' }, READY, REASON, SUBSCRIBERS, URL_COLUMN, AGE],
  },
  {
    names: ['subscriptions', 'subscription', 'sub', 'subscriptions.messaging.knative.dev'],
    info: info('Subscription'),
    columns: [
      NAME,
      { header: 'CHANNEL', value: (o) => { const ch = o.spec?.['channel'] as { kind?: unknown; name?: unknown } | undefined; return typeof ch?.name === 'string' ? `${String(ch.kind)}/${ch.name}` : ''; } },
      READY,
      REASON,
      { header: 'SUBSCRIBER', value: (o) => o.status?.physicalSubscription?.subscriberUri ?? '' },
      AGE,
    ],
  },
  {
    names: ['kafkachannels', 'kafkachannel', 'kc', 'kafkachannels.messaging.knative.dev'],
    info: info('KafkaChannel'),
    columns: [NAME, READY, REASON, SUBSCRIBERS, URL_COLUMN, AGE],
  },
  {
    names: ['kafkasources', 'kafkasource', 'kafkasources.sources.knative.dev'],
    info: info('KafkaSource'),
    columns: [
      NAME,
      { header: 'TOPICS', value: (o) => (Array.isArray(o.spec?.['topics']) ? (o.spec['topics'] as unknown[]).join(',') : '') },
      READY,
      REASON,
      { header: 'SINK', value: (o) => o.status?.sinkUri ?? '' },
      AGE,
    ],
  },
  {
    names: ['inmemorychannels', 'inmemorychannel', 'imc', 'inmemorychannels.messaging.knative.dev'],
    info: info('InMemoryChannel'),
    columns: [NAME, READY, REASON, SUBSCRIBERS, URL_COLUMN, AGE],
  },
];

/** The kind a command-line name means (`triggers`, `trigger`, `triggers.eventing.knative.dev`, ...). */
export function findKind(name: string | undefined, command: string): GetKind {
  const kindList = GET_KINDS.map((k) => k.names[0]).join(', ');
  if (name === undefined) throw new CliError(`which kind? one of: ${kindList} (e.g. kafka-broker ${command} triggers)`);
  const kind = GET_KINDS.find((k) => k.names.includes(name.toLowerCase()));
  if (kind !== undefined) return kind;
  const guess = closest(name, GET_KINDS.flatMap((k) => k.names));
  throw new CliError(`unknown kind "${name}"${guess === undefined ? '' : `; did you mean ${guess}?`} (one of ${kindList})`);
}
