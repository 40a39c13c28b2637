/**
 * `kafka-broker get <kind> [name] [-n <namespace> | -A] [-o table|json|yaml] [--server <url>]`
 * (kinds: brokers, triggers, kafkasinks, channels, subscriptions, kafkachannels, inmemorychannels)
 *
 * Reads the admin API of a running `kafka-broker start` and prints what `kubectl get` would:
 * a table, or (`-o json|yaml`) a Kubernetes List of the full objects with their status.
 */
import { parseArgs } from 'node:util';
import { collectionPath, KINDS, type KindInfo } from '../../controller/kinds.js';
import { ADMIN_CLIENT_OPTIONS, adminConnection, format, outputFormat, readAdminResponse, unreachable } from '../admin-client.js';
import { CliError, type CliIo } from '../cli.js';

const usage = (): string => `Usage: kafka-broker get <kind> [name] [options]

Kinds: ${GET_KINDS.map((k) => k.names[0]).join(', ')}

Options:
  -n, --namespace <ns>    only this namespace (default: every namespace; with a name: "default")
  -A, --all-namespaces    every namespace (the default without a name)
  -o, --output <format>   table (default), json or yaml: the full objects with their status
      --server <url>      the admin API of \`kafka-broker start\` (default $KAFKA_BROKER_ADMIN_URL,
                          else http://127.0.0.1:9090)
      --token-file <file> the admin token (default $KAFKA_BROKER_ADMIN_TOKEN, else the file
                          \`kafka-broker start\` writes: ~/.local/state/kafka-broker/admin-token)
  -h, --help              show this help
`;

interface ObjectLike {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace: string; readonly creationTimestamp?: string };
  readonly spec?: Record<string, unknown>;
  readonly status?: {
    readonly conditions?: readonly { readonly type: string; readonly status: string; readonly reason?: string }[];
    readonly address?: { readonly url?: string };
    readonly subscriberUri?: string;
    readonly subscribers?: readonly { readonly ready?: string }[];
    readonly physicalSubscription?: { readonly subscriberUri?: string };
    readonly channel?: { readonly kind?: string };
  };
}

interface Column {
  readonly header: string;
  readonly value: (object: ObjectLike, now: number) => string;
}

const ready = (o: ObjectLike) => o.status?.conditions?.find((c) => c.type === 'Ready');
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

/** The kinds `get` knows, with their names on the command line and their table columns. */
interface GetKind {
  readonly names: readonly string[];
  readonly info: KindInfo;
  readonly columns: readonly Column[];
}

const info = (kind: string): KindInfo => KINDS.find((k) => k.kind === kind)!;

const GET_KINDS: readonly GetKind[] = [
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
    names: ['inmemorychannels', 'inmemorychannel', 'imc', 'inmemorychannels.messaging.knative.dev'],
    info: info('InMemoryChannel'),
    columns: [NAME, READY, REASON, SUBSCRIBERS, URL_COLUMN, AGE],
  },
];

export async function run(argv: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        namespace: { type: 'string', short: 'n' },
        'all-namespaces': { type: 'boolean', short: 'A' },
        ...ADMIN_CLIENT_OPTIONS,
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new CliError(`${(error as Error).message} (see kafka-broker get --help)`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(usage());
    return 0;
  }
  const [kindName, name, ...extra] = positionals;
  const kindList = GET_KINDS.map((k) => k.names[0]).join(', ');
  if (kindName === undefined) throw new CliError(`which kind? one of: ${kindList} (e.g. kafka-broker get triggers)`);
  const kind = GET_KINDS.find((k) => k.names.includes(kindName.toLowerCase()));
  if (kind === undefined) throw new CliError(`unknown kind "${kindName}": one of ${kindList}`);
  if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}"`);
  const output = outputFormat(values.output);
  if (values.namespace !== undefined && values['all-namespaces']) throw new CliError('-n and -A cannot be used together');
  const namespace = values['all-namespaces'] ? undefined : values.namespace ?? (name === undefined ? undefined : 'default');
  const { server, headers } = await adminConnection(values, io);

  const base = `${server}${collectionPath(kind.info, namespace)}`;
  if (name !== undefined && namespace !== undefined) {
    const object = await fetchJson<ObjectLike>(`${base}/${encodeURIComponent(name)}`, server, headers);
    if (output === 'table') io.stdout.write(table([object], kind.columns, false));
    else io.stdout.write(format(object, output));
    return 0;
  }
  const list = await fetchJson<{ items: ObjectLike[] }>(base, server, headers);
  const items = (name === undefined ? list.items : list.items.filter((o) => o.metadata.name === name))
    .slice()
    .sort((a, b) => a.metadata.namespace.localeCompare(b.metadata.namespace) || a.metadata.name.localeCompare(b.metadata.name));
  if (name !== undefined && items.length === 0) throw new CliError(`${kind.info.singular} "${name}" not found in any namespace`);
  if (output !== 'table') {
    io.stdout.write(format({ apiVersion: 'v1', kind: 'List', items }, output));
    return 0;
  }
  if (items.length === 0) {
    io.stderr.write(`No ${kind.info.plural} found${namespace === undefined ? '' : ` in namespace "${namespace}"`}.\n`);
    return 0;
  }
  io.stdout.write(table(items, kind.columns, namespace === undefined));
  return 0;
}

async function fetchJson<T>(url: string, server: string, headers: Record<string, string>): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(10_000), headers: { accept: 'application/json', ...headers } });
  } catch {
    throw unreachable(server);
  }
  return readAdminResponse<T>(response, server);
}

/** Columns separated by three spaces, as `kubectl get` prints them. */
function table(items: readonly ObjectLike[], columns: readonly Column[], withNamespace: boolean): string {
  const now = Date.now();
  const all: Column[] = withNamespace ? [{ header: 'NAMESPACE', value: (o) => o.metadata.namespace }, ...columns] : [...columns];
  const rows = [all.map((c) => c.header), ...items.map((o) => all.map((c) => c.value(o, now)))];
  const widths = all.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]! + 3))).join('').trimEnd()).join('\n') + '\n';
}

/** Kubernetes' short human durations (k8s.io/apimachinery duration.HumanDuration). */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 3) return `${m}m`;
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  const d = Math.floor(h / 24);
  if (h < 48) return `${h}h`;
  if (d < 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}
