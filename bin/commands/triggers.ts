/**
 * `kafka-broker triggers rewind|skip <namespace/name> --to <...> [--dry-run] [--yes]`: moves a
 * trigger's consumer group through the admin API of a running `start` (dispatcher/rewind/).
 */
import type { RewindAnswer } from '../../dispatcher/rewind/service.js';
import { adminClient, format, objectRef, outputFormat } from '../admin-client.js';
import { CliError, type CliIo } from '../cli.js';
import { parseCommandLine, stringFlag } from '../options.js';
import { formatRow, widthsOf } from '../table.js';

const USAGE = `Usage: kafka-broker triggers <rewind|skip> <namespace/name> --to <target> [options]

  rewind   deliver again the events from the target on (each carries knativereplay=true)
  skip     move past events, which are then never delivered to this trigger

Targets (--to):
  <RFC 3339 time>         the first event appended at or after it, e.g. 2026-12-04T10:00:00Z
  earliest                the earliest event the log still holds (rewind only)
  latest                  the end: skip everything not yet delivered (skip only)
  <p>:<offset>[,...]      these partitions to these offsets (rewind only)

The dispatcher pauses the trigger, finishes and commits what is in flight, moves its consumer
group and resumes; other triggers are not touched. Refused while another rewind of it runs or
another member holds its group. Each move is recorded; \`kafka-broker describe trigger\` shows them.

Options:
      --to <target>       where to move (required)
      --dry-run           show, per partition, where it is, where it would go and how many events
                          that re-delivers or skips; change nothing
  -y, --yes               go ahead when more than 100 events would be skipped
  -n, --namespace <ns>    the trigger's namespace (default "default")
  -o, --output <fmt>      table (default), json or yaml
      --server <url>      the admin API (default $KAFKA_BROKER_ADMIN_URL, else http://127.0.0.1:9090)
      --token-file <file> the admin token (default $KAFKA_BROKER_ADMIN_TOKEN, else the file \`start\` writes)
  -h, --help              show this help
`;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    to: { type: 'string' },
    'dry-run': { type: 'boolean' },
    yes: { type: 'boolean', short: 'y' },
    namespace: { type: 'string', short: 'n' },
    output: { type: 'string', short: 'o' },
    server: { type: 'string' },
    'token-file': { type: 'string' },
  }, 'triggers', true);
  if (values['help'] === true) {
    io.stdout.write(USAGE);
    return 0;
  }
  const [action, nameArg, ...extra] = positionals;
  if (action !== 'rewind' && action !== 'skip') throw new CliError(action === undefined ? 'rewind or skip? (see kafka-broker triggers --help)' : `unknown action "${action}": rewind or skip`);
  if (nameArg === undefined) throw new CliError(`which trigger? kafka-broker triggers ${action} <namespace/name> --to <target>`);
  if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}" (one trigger at a time)`);
  const to = stringFlag(values, 'to');
  if (to === undefined) throw new CliError(`--to is required: ${action === 'skip' ? 'a time or latest' : 'a time, earliest or <partition>:<offset>'}`);
  const output = outputFormat(stringFlag(values, 'output'));
  const ref = objectRef(nameArg, stringFlag(values, 'namespace'));
  const namespace = ref.namespace ?? 'default';
  const client = await adminClient(values, io);
  const answer = await client.request<RewindAnswer>(`/triggers/${encodeURIComponent(namespace)}/${encodeURIComponent(ref.name)}/${action}`, {
    method: 'POST',
    body: { to, dryRun: values['dry-run'] === true, confirm: values['yes'] === true },
  });
  if (output !== 'table') io.stdout.write(format(answer, output));
  else io.stdout.write(describeAnswer(answer, action));
  return 0;
}

/** The table of moves and a summary line: pure, for tests. */
export function describeAnswer(answer: RewindAnswer, action: 'rewind' | 'skip'): string {
  const rows = [['TOPIC', 'PARTITION', 'CURRENT', 'TARGET', 'REDELIVERED', 'SKIPPED'], ...answer.moves.map((m) => [m.topic, String(m.partition), m.current, m.target, String(m.redelivered), String(m.skipped)])];
  const widths = widthsOf(rows);
  const verb = answer.dryRun ? `would ${action}` : action === 'skip' ? 'skipped' : 'rewound';
  const summary = `${answer.trigger} ${verb} to ${answer.to}: ${answer.redelivered} event${answer.redelivered === 1 ? '' : 's'} ${answer.dryRun ? 'would be ' : ''}re-delivered, ${answer.skipped} ${answer.dryRun ? 'would be ' : ''}skipped${answer.dryRun ? ' (dry run: nothing changed)' : ''}`;
  return `${rows.map((r) => formatRow(r, widths)).join('\n')}\n${summary}\n`;
}
