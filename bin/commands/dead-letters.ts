/**
 * `kafka-broker dead-letters <list|show|replay>`: the dead letters held by the KafkaSinks of a
 * running `kafka-broker start`, read through its admin API (dispatcher/dead-letters.ts), with the
 * same `--server` flag and output formats as `get`.
 */
import type { DeadLetter, DeadLetterDetail, DeadLetterList, Payload, ReplayReport } from '../../dispatcher/dead-letters/index.js';
import { ADMIN_CLIENT_OPTIONS, adminClient, format, outputFormat } from '../admin-client.js';
import { CliError, type CliIo } from '../cli.js';
import { parseCommandLine, stringFlag } from '../options.js';

const USAGE = `Usage: kafka-broker dead-letters <list|show|replay> [options]

  list                     one row per dead-lettered event, read from the KafkaSinks' topics
                           (from the beginning; no consumer group is moved)
  show <id>                the whole event, its data and the decoded knativeerrordata
  replay <id>... | --all   send the events again, without the knativeerror* extensions, to the
                           trigger or subscription they failed for (its current subscriber,
                           delivery settings and dead-letter sink), or to --to <url>

An <id> is the event id the list shows, or a dead letter's ref (<sink ns>/<sink>/<partition>/<offset>)
when one event was dead-lettered more than once.

Filters (list, and replay --all):
      --sink <ns>/<name>           one KafkaSink (default: every KafkaSink)
      --trigger <ns>/<name>        failed for this trigger (knativeerrortrigger)
      --subscription <ns>/<name>   failed for this subscription (knativeerrorsubscription)
      --type <type>                of this CloudEvents type
      --since <time>               dead-lettered since a time (2026-11-27T12:00:00Z) or for a
                                   duration (90s, 15m, 2h, 7d)
      --limit <n>                  list: at most n per page (default 100, at most 1000)
      --continue <token>           list: the next page, from the token the previous page printed

Replay:
      --all                        every dead letter the filters select that was not replayed yet
      --to <url>                   send to this URL instead of the trigger's subscriber
      --force                      replay dead letters that were replayed before

Options:
  -o, --output <format>   table (default), json or yaml
      --server <url>      the admin API of \`kafka-broker start\` (default $KAFKA_BROKER_ADMIN_URL,
                          else http://127.0.0.1:9090)
      --token-file <file> the admin token (default $KAFKA_BROKER_ADMIN_TOKEN, else the file
                          \`kafka-broker start\` writes: ~/.local/state/kafka-broker/admin-token)
  -h, --help              show this help
`;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandLine(argv, {
    sink: { type: 'string' },
    trigger: { type: 'string' },
    subscription: { type: 'string' },
    type: { type: 'string' },
    since: { type: 'string' },
    limit: { type: 'string' },
    continue: { type: 'string' },
    all: { type: 'boolean' },
    to: { type: 'string' },
    force: { type: 'boolean' },
    ...ADMIN_CLIENT_OPTIONS,
  }, 'dead-letters', true);
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const positionals = parsed.positionals;
  const str = (name: string): string | undefined => stringFlag(values, name);
  if (values['help'] === true) {
    io.stdout.write(USAGE);
    return 0;
  }
  const [action, ...args] = positionals;
  const output = outputFormat(str('output'));
  const client = await adminClient(values, io);
  const filters = { sink: str('sink'), trigger: str('trigger'), subscription: str('subscription'), type: str('type'), since: str('since'), limit: str('limit'), continue: str('continue') };
  const given = Object.entries(filters).filter(([, v]) => v !== undefined);
  const only = (allowed: readonly string[], flags: Record<string, unknown>): void => {
    const wrong = Object.entries(flags).filter(([name, v]) => v !== undefined && v !== false && !allowed.includes(name)).map(([name]) => `--${name}`);
    if (wrong.length > 0) throw new CliError(`${wrong.join(', ')} cannot be used with ${action} (see kafka-broker dead-letters --help)`);
  };

  switch (action) {
    case 'list': {
      if (args.length > 0) throw new CliError(`list takes no arguments, got "${args[0]}" (show <id> shows one)`);
      only([], { all: values['all'], to: values['to'], force: values['force'] });
      const query = new URLSearchParams(given as [string, string][]).toString();
      const list = await client.request<DeadLetterList>(`/dead-letters/events${query === '' ? '' : `?${query}`}`);
      if (output !== 'table') {
        io.stdout.write(format(list, output));
        return 0;
      }
      if (list.items.length === 0) {
        io.stderr.write(`${emptyList(list)}\n`);
        return 0;
      }
      io.stdout.write(listTable(list));
      if (list.continue !== undefined) io.stderr.write(`(more: add --continue ${list.continue} for the next page)\n`);
      return 0;
    }
    case 'show': {
      if (args.length !== 1) throw new CliError(args.length === 0 ? 'which dead letter? kafka-broker dead-letters show <id>' : 'show takes one id');
      only([], { ...filters, all: values['all'], to: values['to'], force: values['force'] });
      const { items } = await client.request<{ items: DeadLetterDetail[] }>(`/dead-letters/events/${encodeURIComponent(args[0]!)}`);
      io.stdout.write(output === 'table' ? items.map(describe).join('\n---\n\n') : format(items.length === 1 ? items[0] : items, output));
      return 0;
    }
    case 'replay': {
      if (values['all'] === true && args.length > 0) throw new CliError('give either ids or --all, not both');
      if (values['all'] !== true && args.length === 0) throw new CliError('which dead letters? kafka-broker dead-letters replay <id>... (or --all)');
      if (values['all'] !== true && given.length > 0) throw new CliError(`${given.map(([n]) => `--${n}`).join(', ')} select dead letters for --all; with ids, give only the ids`);
      if (values['limit'] !== undefined || values['continue'] !== undefined) throw new CliError('--limit and --continue are for list; replay --all replays every dead letter the filters select');
      const body = {
        ...(values['all'] === true ? { all: true, ...Object.fromEntries(given) } : { ids: args }),
        ...(values['to'] === undefined ? {} : { to: values['to'] }),
        ...(values['force'] === true ? { force: true } : {}),
      };
      // A replay delivers with the trigger's own retries and backoff: it may take a while.
      const report = await client.request<ReplayReport>('/dead-letters/replay', { method: 'POST', body, timeoutMs: 30 * 60_000 });
      if (output !== 'table') io.stdout.write(format(report, output));
      else if (report.results.length === 0) io.stderr.write('No dead letters to replay (those replayed before need --force).\n');
      else io.stdout.write(report.results.map(replayLine).join(''));
      return report.results.some((r) => r.outcome === 'failed' || !r.recorded) ? 1 : 0;
    }
    case undefined:
      throw new CliError('list, show or replay? (see kafka-broker dead-letters --help)');
    default:
      throw new CliError(`unknown action "${action}": list, show or replay`);
  }
}

function emptyList(list: DeadLetterList): string {
  if (list.sinks.length === 0) return 'No dead letters found: no KafkaSinks are serving (see kafka-broker get kafkasinks).';
  const where = list.sinks.length === 1 ? `sink ${list.sinks[0]!.namespace}/${list.sinks[0]!.name}` : `${list.sinks.length} sinks`;
  const other = list.other === 0 ? '' : ` (${list.other} other record${list.other === 1 ? '' : 's'} there ${list.other === 1 ? 'is' : 'are'} not dead letters)`;
  return `No dead letters found in ${where}${other}.`;
}

const failedFor = (d: DeadLetter): string => (d.failedFor === null ? '' : `${d.failedFor.kind.toLowerCase()}/${d.failedFor.namespace}/${d.failedFor.name}`);

/** Columns separated by three spaces, as `get` prints them. */
function listTable(list: DeadLetterList): string {
  const withSink = new Set(list.items.map((d) => `${d.sink.namespace}/${d.sink.name}`)).size > 1;
  const columns: [string, (d: DeadLetter) => string][] = [
    ...(withSink ? [['SINK', (d: DeadLetter) => `${d.sink.namespace}/${d.sink.name}`] as [string, (d: DeadLetter) => string]] : []),
    ['ID', (d) => d.id],
    ['TYPE', (d) => d.type],
    ['SOURCE', (d) => d.source],
    ['FAILED FOR', failedFor],
    ['DESTINATION', (d) => d.errorDest],
    ['CODE', (d) => (d.errorCode === null ? '' : String(d.errorCode))],
    ['DEAD-LETTERED', (d) => d.deadLetteredAt.replace(/\.\d{3}Z$/, 'Z')],
    ['REPLAYED', (d) => (d.replay === null ? '' : d.replay.outcome)],
  ];
  const rows = [columns.map(([h]) => h), ...list.items.map((d) => columns.map(([, value]) => value(d)))];
  const widths = columns.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]! + 3))).join('').trimEnd()).join('\n') + '\n';
}

function describe(d: DeadLetterDetail): string {
  const facts: [string, string][] = [
    ['ID', d.id],
    ['Ref', d.ref],
    ['Sink', `${d.sink.namespace}/${d.sink.name} (topic ${d.sink.topic}, partition ${d.partition}, offset ${d.offset})`],
    ['Dead-lettered', d.deadLetteredAt],
    ['Failed for', d.failedFor === null ? 'unknown (no knativeerrortrigger or knativeerrorsubscription)' : `${d.failedFor.kind} ${d.failedFor.namespace}/${d.failedFor.name}`],
    ...(d.broker === null ? [] : [['Broker', d.broker] as [string, string]]),
    ['Destination', d.errorDest],
    ['Code', d.errorCode === null ? 'none (no response: timeout or network error)' : String(d.errorCode)],
    ['Replayed', d.replay === null ? 'no' : `${d.replay.outcome} at ${d.replay.replayedAt} (${d.replay.count} time${d.replay.count === 1 ? '' : 's'}, to ${d.replay.destination})`],
  ];
  const width = Math.max(...facts.map(([k]) => k.length)) + 2;
  const attributeNames = Object.keys(d.attributes).sort();
  const attributeWidth = Math.max(...attributeNames.map((n) => n.length)) + 2;
  return [
    ...facts.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`),
    'Attributes:',
    ...attributeNames.map((n) => `  ${`${n}:`.padEnd(attributeWidth)}${String(d.attributes[n])}`),
    payloadBlock('Data', undefined, d.data),
    payloadBlock('Error response', 'knativeerrordata', d.errorData),
  ].join('\n') + '\n';
}

function payloadBlock(title: string, from: string | undefined, payload: Payload | null): string {
  const prefix = from === undefined ? '' : `${from}, `;
  if (payload === null) return `${title}${from === undefined ? '' : ` (${from})`}: none`;
  const how = `${prefix}${payload.bytes} bytes${payload.encoding === 'base64' ? ', base64' : ''}`;
  return `${title} (${how}):\n${payload.value.split('\n').map((line) => `  ${line}`).join('\n')}`;
}

function replayLine(r: ReplayReport['results'][number]): string {
  const what = `${r.id} (${r.ref})`;
  switch (r.outcome) {
    case 'delivered':
      return `${what}: delivered to ${r.target === r.destination ? r.destination : `${r.target} at ${r.destination}`}${r.message === undefined ? '' : `; ${r.message}`}\n`;
    case 'dead-lettered':
      return `${what}: ${r.message ?? 'dead-lettered again'}\n`;
    case 'failed':
      return `${what}: not replayed: ${r.message ?? 'failed'}\n`;
    default: {
      const never: never = r.outcome;
      return never;
    }
  }
}
