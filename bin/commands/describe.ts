/**
 * `kafka-broker describe <kind> <name | namespace/name> [-n <namespace>] [--server <url>]`
 *
 * One object of a running `kafka-broker start`, as `kubectl describe` shows it: what it is, its
 * spec (a trigger's filter, subscriber, delivery and dead-letter sink spelt out), its addresses,
 * its conditions with reasons and messages, and, for triggers and brokers, its latest dead
 * letters (from the admin API's dead-letters endpoint).
 */
import { stringify } from 'yaml';
import { collectionPath } from '../../controller/api-kinds.js';
import type { DeadLetter, DeadLetterList } from '../../dispatcher/dead-letters/index.js';
import type { RewindRecord } from '../../dispatcher/rewind/service.js';
import { adminClient, type AdminClient, objectRef } from '../admin-client.js';
import { CliError, type CliIo } from '../cli.js';
import { findKind, GET_KINDS, type ObjectLike } from '../kinds.js';
import { parseCommandLine, stringFlag } from '../options.js';
import { age, formatRow, widthsOf } from '../table.js';

const usage = (): string => `Usage: kafka-broker describe <kind> <name | namespace/name> [options]

Kinds: ${GET_KINDS.map((k) => k.names[0]).join(', ')}

Shows one object: its spec, addresses, conditions (with reasons and messages) and, for triggers
and brokers, the latest dead letters held by KafkaSinks.

Options:
  -n, --namespace <ns>    the object's namespace (default "default")
      --server <url>      the admin API of \`kafka-broker start\` (default $KAFKA_BROKER_ADMIN_URL,
                          which start prints, else http://127.0.0.1:9090)
      --token-file <file> the admin token (default $KAFKA_BROKER_ADMIN_TOKEN, else the file
                          \`kafka-broker start\` writes: ~/.local/state/kafka-broker/admin-token)
  -h, --help              show this help
`;

/** How many dead letters describe shows; `dead-letters list` shows them all. */
const DEAD_LETTERS_SHOWN = 5;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    namespace: { type: 'string', short: 'n' },
    server: { type: 'string' },
    'token-file': { type: 'string' },
  }, 'describe', true);
  if (values['help'] === true) {
    io.stdout.write(usage());
    return 0;
  }
  const [kindName, nameArg, ...extra] = positionals;
  const kind = findKind(kindName, 'describe');
  if (nameArg === undefined) throw new CliError(`which ${kind.info.singular}? kafka-broker describe ${kind.names[1]} <name>`);
  if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}" (one object at a time)`);
  const ref = objectRef(nameArg, stringFlag(values, 'namespace'));
  const namespace = ref.namespace ?? 'default';
  const client = await adminClient(values, io);
  const object = await client.get<ObjectLike>(`${collectionPath(kind.info, namespace)}/${encodeURIComponent(ref.name)}`);
  const deadLetters = await recentDeadLetters(client, object);
  const rewinds = object.kind === 'Trigger' ? await rewindsOf(client, namespace, ref.name) : undefined;
  io.stdout.write(describeObject(object, deadLetters, Date.now(), await lagOf(client, object), rewinds));
  return 0;
}

/** What `GET /lag` (controller/lag-route.ts) says of one consumer: records not yet delivered, the oldest's age. */
export interface ConsumerLag {
  readonly records: number;
  readonly oldestAgeSeconds?: number | null;
}

/** The lag of a Trigger or KafkaSource; undefined for other kinds, or when the admin API cannot tell. */
async function lagOf(client: AdminClient, object: ObjectLike): Promise<ConsumerLag | undefined> {
  if (object.kind !== 'Trigger' && object.kind !== 'KafkaSource') return undefined;
  try {
    const { items } = await client.get<{ items: (ConsumerLag & { kind: string; namespace: string; name: string })[] }>('/lag');
    return items.find((i) => i.kind === object.kind && i.namespace === object.metadata.namespace && i.name === object.metadata.name);
  } catch {
    return undefined;
  }
}

interface RecentDeadLetters {
  /** The first ones, oldest first (dead letters are read in pages, oldest first). */
  readonly items: readonly DeadLetter[];
  /** Whether there are more than those shown. */
  readonly hasMore: boolean;
  /** The command that lists them all. */
  readonly more: string;
}

/** A trigger's or broker's latest dead letters; undefined for other kinds. */
async function recentDeadLetters(client: AdminClient, object: ObjectLike): Promise<RecentDeadLetters | undefined> {
  const ref = `${object.metadata.namespace}/${object.metadata.name}`;
  if (object.kind === 'Trigger') {
    const list = await client.get<DeadLetterList>(`/dead-letters/events?trigger=${encodeURIComponent(ref)}&limit=${DEAD_LETTERS_SHOWN}`);
    return { items: list.items, hasMore: list.continue !== undefined, more: `kafka-broker dead-letters list --trigger ${ref}` };
  }
  if (object.kind === 'Broker') {
    // The endpoint filters by trigger, not broker: knativeerrorbroker is matched here.
    const list = await client.get<DeadLetterList>('/dead-letters/events');
    const mine = list.items.filter((d) => d.broker === ref);
    return { items: mine.slice(0, DEAD_LETTERS_SHOWN), hasMore: mine.length > DEAD_LETTERS_SHOWN || list.continue !== undefined, more: 'kafka-broker dead-letters list' };
  }
  return undefined;
}

/** A trigger's rewinds and skips, newest last; undefined when the admin API does not keep them (no dispatcher there). */
async function rewindsOf(client: AdminClient, namespace: string, name: string): Promise<readonly RewindRecord[] | undefined> {
  try {
    return (await client.get<{ items: RewindRecord[] }>(`/triggers/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/rewinds`)).items;
  } catch {
    return undefined;
  }
}

/** The text of `describe`: pure, so it is tested without a server. */
export function describeObject(o: ObjectLike, deadLetters: RecentDeadLetters | undefined, now: number, lag?: ConsumerLag, rewinds?: readonly RewindRecord[]): string {
  const facts: [string, string][] = [
    ['Name', o.metadata.name],
    ['Namespace', o.metadata.namespace],
    ['Kind', `${o.kind}${o.apiVersion === undefined ? '' : ` (${o.apiVersion})`}`],
  ];
  const labels = Object.entries(o.metadata.labels ?? {});
  const annotations = Object.entries(o.metadata.annotations ?? {});
  facts.push(['Labels', labels.length === 0 ? '<none>' : labels.map(([k, v]) => `${k}=${v}`).join(', ')]);
  facts.push(['Annotations', annotations.length === 0 ? '<none>' : annotations.map(([k, v]) => `${k}=${v}`).join(', ')]);
  if (o.metadata.creationTimestamp !== undefined) facts.push(['Created', `${o.metadata.creationTimestamp} (${age(now - Date.parse(o.metadata.creationTimestamp))} ago)`]);
  if (o.metadata.generation !== undefined) {
    const observed = o.status?.observedGeneration;
    facts.push(['Generation', `${o.metadata.generation}${observed === undefined ? '' : observed === o.metadata.generation ? ' (observed)' : ` (observed ${observed}: not reconciled yet)`}`]);
  }
  const spec = o.spec ?? {};
  if (o.kind === 'Trigger') {
    facts.push(['Broker', typeof spec['broker'] === 'string' ? spec['broker'] : '<none>']);
    facts.push(['Subscriber', destination(spec['subscriber'], o.status?.subscriberUri, o.metadata.namespace)]);
    const delivery = spec['delivery'] as Record<string, unknown> | undefined;
    facts.push(['Dead Letter Sink', destination(delivery?.['deadLetterSink'], o.status?.deadLetterSinkUri, o.metadata.namespace)]);
  }
  const address = o.status?.address?.url;
  if (address !== undefined) facts.push(['Address', address]);
  const width = Math.max(...facts.map(([k]) => k.length)) + 2;
  const out = facts.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`);

  if (o.kind === 'Trigger') {
    out.push(`Filter:${block(spec['filters'] !== undefined ? { filters: spec['filters'] } : spec['filter'] !== undefined ? { filter: spec['filter'] } : undefined, 'every event (no filter)')}`);
    out.push(`Delivery:${block(spec['delivery'], "the broker's delivery settings")}`);
  } else {
    out.push(`Spec:${block(Object.keys(spec).length === 0 ? undefined : spec, '<none>')}`);
  }

  const conditions = [...(o.status?.conditions ?? [])].sort((a, b) => (a.type === 'Ready' ? -1 : b.type === 'Ready' ? 1 : a.type.localeCompare(b.type)));
  if (conditions.length === 0) out.push('Conditions:  <none> (not reconciled yet)');
  else {
    const rows = [
      ['TYPE', 'STATUS', 'REASON', 'AGE', 'MESSAGE'],
      ...conditions.map((c) => [c.type, c.status, c.reason ?? '', c.lastTransitionTime === undefined ? '' : age(now - Date.parse(c.lastTransitionTime)), c.message ?? '']),
    ];
    const widths = widthsOf(rows);
    out.push('Conditions:', ...rows.map((r) => `  ${formatRow(r, widths)}`));
  }

  if (lag !== undefined) {
    const oldest = lag.records > 0 && typeof lag.oldestAgeSeconds === 'number' ? ` (the oldest waiting ${age(lag.oldestAgeSeconds * 1000)})` : '';
    out.push(`Lag:           ${lag.records} records not yet delivered${oldest}`);
  }
  if (deadLetters !== undefined) {
    if (deadLetters.items.length === 0) out.push('Dead Letters:  <none>');
    else {
      const shown = deadLetters.items;
      out.push(deadLetters.hasMore ? `Dead Letters:  the first ${shown.length} (all: ${deadLetters.more})` : `Dead Letters:  ${shown.length}`);
      const rows = [
        ['ID', 'TYPE', 'CODE', 'DEAD-LETTERED', 'DESTINATION'],
        ...shown.map((d) => [d.id, d.type, d.errorCode === null ? '' : String(d.errorCode), d.deadLetteredAt.replace(/\.\d{3}Z$/, 'Z'), d.errorDest]),
      ];
      const widths = widthsOf(rows);
      out.push(...rows.map((r) => `  ${formatRow(r, widths)}`));
    }
  }
  // From the admin API of a process running the dispatcher, else (Kubernetes) the Trigger's status.rewinds.
  const rewindRows = rewinds !== undefined
    ? rewinds.map((r) => [r.at.replace(/\.\d{3}Z$/, 'Z'), r.who, r.mode, r.moves.map((m) => `${m.partition}:${m.current}`).join(','), `${r.to} (${r.moves.map((m) => `${m.partition}:${m.target}`).join(',')})`, String(r.redelivered), String(r.skipped)])
    : o.status?.rewinds?.map((r) => [r.at.replace(/\.\d{3}Z$/, 'Z'), r.who, r.state === 'done' ? r.kind : `${r.kind} failed: ${r.message ?? ''}`, r.from, r.to, String(r.redelivered), String(r.skipped)]);
  if (rewindRows !== undefined) {
    if (rewindRows.length === 0) out.push('Rewinds:  <none>');
    else {
      out.push(`Rewinds:  ${rewindRows.length}`);
      const rows = [
        ['WHEN', 'WHO', 'ACTION', 'FROM', 'TO', 'REDELIVERED', 'SKIPPED'],
        ...rewindRows,
      ];
      const widths = widthsOf(rows);
      out.push(...rows.map((r) => `  ${formatRow(r, widths)}`));
    }
  }
  return `${out.join('\n')}\n`;
}

/** A destination as written (`ref`, in the object's namespace unless it names one, or `uri`) and what it resolved to. */
function destination(spec: unknown, resolved: string | undefined, namespace: string): string {
  if (spec === undefined || spec === null) return '<none>';
  const d = spec as { ref?: { kind?: string; name?: string; namespace?: string }; uri?: string };
  const written = d.ref !== undefined
    ? `${d.ref.kind ?? '?'} ${d.ref.namespace ?? namespace}/${d.ref.name ?? '?'}${d.uri === undefined ? '' : ` + ${d.uri}`}`
    : d.uri ?? JSON.stringify(spec);
  if (resolved === undefined) return `${written} (not resolved)`;
  return written === resolved ? resolved : `${written} → ${resolved}`;
}

/** A value as indented YAML under its heading, or `none` on the heading's line. */
function block(value: unknown, none: string): string {
  if (value === undefined) return `  ${none}`;
  return `\n${stringify(value, { lineWidth: 0 }).trimEnd().split('\n').map((l) => `  ${l}`).join('\n')}`;
}
