/**
 * `kafka-broker get <kind> [name | namespace/name] [-n <namespace> | -A] [-o table|wide|json|yaml] [-w] [--server <url>]`
 * (kinds: brokers, triggers, kafkasinks, channels, subscriptions, kafkachannels, inmemorychannels)
 *
 * Reads the admin API of a running `kafka-broker start` and prints what `kubectl get` would:
 * a table (`-o wide` adds the Ready condition's message), or (`-o json|yaml`) a Kubernetes List
 * of the full objects with their status. `-w` prints the table, then a row per change until Ctrl-C.
 */
import { collectionPath } from '../../controller/api-kinds.js';
import { ADMIN_CLIENT_OPTIONS, adminClient, type AdminClient, format, objectRef, outputFormat, type Output } from '../admin-client.js';
import { CliError, type CliIo } from '../cli.js';
import { findKind, GET_KINDS, MESSAGE, type Column, type GetKind, type ObjectLike } from '../kinds.js';
import { parseCommandLine, stringFlag } from '../options.js';
import { age, formatRow, rowOf, table, widthsOf, withNamespaceColumn } from '../table.js';

const usage = (): string => `Usage: kafka-broker get <kind> [name | namespace/name] [options]

Kinds: ${GET_KINDS.map((k) => k.names[0]).join(', ')}

Options:
  -n, --namespace <ns>    only this namespace (default: every namespace; with a name: "default")
  -A, --all-namespaces    every namespace (the default without a name)
  -o, --output <format>   table (default); wide: also the Ready condition's message (and for
                          triggers the age of the oldest event not yet delivered);
                          json or yaml: the full objects with their status
  -w, --watch             print the table, then a row for each object that changes (polling the
                          admin API every second), until Ctrl-C
      --server <url>      the admin API of \`kafka-broker start\` (default $KAFKA_BROKER_ADMIN_URL,
                          which start prints, else http://127.0.0.1:9090)
      --token-file <file> the admin token (default $KAFKA_BROKER_ADMIN_TOKEN, else the file
                          \`kafka-broker start\` writes: ~/.local/state/kafka-broker/admin-token)
  -h, --help              show this help
`;

/** How often `-w` asks the admin API again; it has no watch endpoint for objects. */
const WATCH_INTERVAL_MS = 1000;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    namespace: { type: 'string', short: 'n' },
    'all-namespaces': { type: 'boolean', short: 'A' },
    watch: { type: 'boolean', short: 'w' },
    ...ADMIN_CLIENT_OPTIONS,
  }, 'get', true);
  if (values['help'] === true) {
    io.stdout.write(usage());
    return 0;
  }
  const [kindName, nameArg, ...extra] = positionals;
  const kind = findKind(kindName, 'get');
  if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}" (one name at a time)`);
  const output = outputFormat(stringFlag(values, 'output'), ['table', 'wide', 'json', 'yaml']);
  const allNamespaces = values['all-namespaces'] === true;
  const namespaceFlag = stringFlag(values, 'namespace');
  if (namespaceFlag !== undefined && allNamespaces) throw new CliError('-n and -A cannot be used together');
  const ref = nameArg === undefined ? undefined : objectRef(nameArg, namespaceFlag);
  const name = ref?.name;
  const namespace = allNamespaces ? undefined : ref?.namespace ?? namespaceFlag ?? (name === undefined ? undefined : 'default');
  const client = await adminClient(values, io);
  const lag = new Map<string, LagItem>();
  const columns = withLag(kind, output === 'wide' ? [...kind.columns, MESSAGE] : kind.columns, output === 'wide', lag);
  const query: Query = { kind, namespace, name, client, lag };

  if (values['watch'] === true) return watch(query, output, columns, io);
  if (name !== undefined && namespace !== undefined) {
    const object = await client.get<ObjectLike>(`${collectionPath(kind.info, namespace)}/${encodeURIComponent(name)}`);
    await refreshLag(query);
    io.stdout.write(output === 'table' || output === 'wide' ? table([object], columns, false) : format(object, output));
    return 0;
  }
  const items = await list(query);
  if (name !== undefined && items.length === 0) throw new CliError(`${kind.info.singular} "${name}" not found in any namespace`);
  if (output === 'json' || output === 'yaml') {
    io.stdout.write(format({ apiVersion: 'v1', kind: 'List', items }, output));
    return 0;
  }
  if (items.length === 0) {
    io.stderr.write(`${noneFound(query)}\n`);
    return 0;
  }
  io.stdout.write(table(items, columns, namespace === undefined));
  return 0;
}

interface Query {
  readonly kind: GetKind;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly client: AdminClient;
  /** Consumer lag by `namespace/name`, refreshed with each list (triggers only). */
  readonly lag: Map<string, LagItem>;
}

/** One trigger's lag as the admin API's `GET /lag` (controller/lag-route.ts) gives it. */
interface LagItem {
  readonly namespace: string;
  readonly name: string;
  readonly kind: string;
  readonly records: number;
  readonly oldestAgeSeconds?: number | null;
}

/**
 * Triggers get LAG (records not yet delivered) before AGE, and with -o wide OLDEST (how long the
 * oldest of them has waited); `-` where the admin API does not know (an older server, a log
 * without offsets, a trigger not started yet).
 */
/** The kinds whose objects consume (an egress each): triggers, and KafkaSources reading their topics. */
const LAGGING_KINDS: ReadonlySet<string> = new Set(['Trigger', 'KafkaSource']);

function withLag(kind: GetKind, columns: readonly Column[], wide: boolean, lag: ReadonlyMap<string, LagItem>): readonly Column[] {
  if (!LAGGING_KINDS.has(kind.info.kind)) return columns;
  const item = (o: ObjectLike): LagItem | undefined => lag.get(`${o.metadata.namespace}/${o.metadata.name}`);
  const added: Column[] = [{ header: 'LAG', value: (o) => (item(o) === undefined ? '-' : String(item(o)!.records)) }];
  if (wide) {
    added.push({
      header: 'OLDEST',
      value: (o) => {
        const seconds = item(o)?.oldestAgeSeconds;
        return typeof seconds === 'number' ? age(seconds * 1000) : '-';
      },
    });
  }
  const at = columns.findIndex((c) => c.header === 'AGE');
  return at < 0 ? [...columns, ...added] : [...columns.slice(0, at), ...added, ...columns.slice(at)];
}

/** Reads `GET /lag` into the query's map; a server without it leaves the map empty. */
async function refreshLag({ kind, client, lag }: Query): Promise<void> {
  if (!LAGGING_KINDS.has(kind.info.kind)) return;
  lag.clear();
  try {
    const { items } = await client.get<{ items: LagItem[] }>('/lag');
    for (const i of items) if (i.kind === kind.info.kind) lag.set(`${i.namespace}/${i.name}`, i);
  } catch {
    // An admin API from before /lag, or the log cannot tell: the column shows '-'.
  }
}

/** The objects of the query, sorted by namespace and name. */
async function list(query: Query): Promise<ObjectLike[]> {
  const { kind, namespace, name, client } = query;
  const { items } = await client.get<{ items: ObjectLike[] }>(collectionPath(kind.info, namespace));
  await refreshLag(query);
  return (name === undefined ? items : items.filter((o) => o.metadata.name === name))
    .slice()
    .sort((a, b) => a.metadata.namespace.localeCompare(b.metadata.namespace) || a.metadata.name.localeCompare(b.metadata.name));
}

const noneFound = ({ kind, namespace }: Query): string => `No ${kind.info.plural} found${namespace === undefined ? '' : ` in namespace "${namespace}"`}.`;

/** What makes a row worth printing again under -w: anything but the passing of time. */
const fingerprint = (o: ObjectLike): string => JSON.stringify([o.metadata.generation, o.spec, o.status]);
const keyOf = (o: ObjectLike): string => `${o.metadata.namespace}/${o.metadata.name}`;

/**
 * `-w`: the table once, then, every second, a row for each object that was added, changed or
 * deleted (marked so), in the first table's column widths. Ends with Ctrl-C (exit 0).
 */
async function watch(query: Query, output: Output, columns: readonly Column[], io: CliIo): Promise<number> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const all = withNamespaceColumn(columns, query.namespace === undefined);
    const tableOutput = output === 'table' || output === 'wide';
    let items = await list(query);
    let widths = widthsOf([all.map((c) => c.header), ...items.map((o) => rowOf(o, all, Date.now()))]);
    const print = (o: ObjectLike, deleted = false): void => {
      if (!tableOutput) io.stdout.write(format(o, output as 'json' | 'yaml') + (output === 'yaml' ? '---\n' : ''));
      else io.stdout.write(`${formatRow(rowOf(o, all, Date.now()), widths)}${deleted ? '   (deleted)' : ''}\n`);
    };
    if (tableOutput) {
      if (items.length === 0) io.stderr.write(`${noneFound(query)} Watching for changes (Ctrl-C stops).\n`);
      else io.stdout.write(table(items, columns, query.namespace === undefined));
    } else items.forEach((o) => print(o));
    let seen = new Map(items.map((o) => [keyOf(o), { object: o, print: fingerprint(o) }]));
    while (!stop.signal.aborted) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, WATCH_INTERVAL_MS);
        stop.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
      if (stop.signal.aborted) break;
      items = await list(query);
      if (seen.size === 0 && items.length > 0) widths = widthsOf([all.map((c) => c.header), ...items.map((o) => rowOf(o, all, Date.now()))]);
      const next = new Map(items.map((o) => [keyOf(o), { object: o, print: fingerprint(o) }]));
      for (const [key, entry] of next) if (seen.get(key)?.print !== entry.print) print(entry.object);
      for (const [key, entry] of seen) if (!next.has(key)) print(entry.object, true);
      seen = next;
    }
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
