/**
 * `kafka-broker tail <namespace/broker> [--trigger <name> | --filter <CESQL>] [--from <time> | -n N]
 * [-o pretty|json|yaml]`: the broker's events as they are appended, read through the admin API's
 * server-sent events (dispatcher/tail/), which joins no consumer group. Ctrl-C ends it (exit 0).
 */
import { stringify } from 'yaml';
import { adminClient, objectRef } from '../admin-client.js';
import { CliError, type CliIo } from '../cli.js';
import { parseCommandLine, stringFlag } from '../options.js';
import { didYouMean } from '../../core/suggest.js';

const USAGE = `Usage: kafka-broker tail <namespace/broker> [options]

Follows a broker's events as they arrive, without joining or moving any trigger's consumer group.

Options:
      --trigger <name>    only what that trigger's filter passes
      --filter <CESQL>    only what this CESQL expression passes, e.g. "type LIKE 'com.example.%'"
      --from <time>       start with the events appended since an RFC 3339 time
  -n, --last <N>          start with the last N events (default: only new ones)
  -o, --output <fmt>      pretty (default), json (one event a line) or yaml
      --max-data <bytes>  pretty: show at most this much of each event's data (default 1024)
      --server <url>      the admin API (default $KAFKA_BROKER_ADMIN_URL, else http://127.0.0.1:9090)
      --token-file <file> the admin token (default $KAFKA_BROKER_ADMIN_TOKEN, else the file \`start\` writes)
  -h, --help              show this help
`;

const OUTPUTS = ['pretty', 'json', 'yaml'] as const;
type TailOutput = (typeof OUTPUTS)[number];

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    trigger: { type: 'string' },
    filter: { type: 'string' },
    from: { type: 'string' },
    last: { type: 'string', short: 'n' },
    output: { type: 'string', short: 'o' },
    'max-data': { type: 'string' },
    server: { type: 'string' },
    'token-file': { type: 'string' },
  }, 'tail', true);
  if (values['help'] === true) {
    io.stdout.write(USAGE);
    return 0;
  }
  const [brokerArg, ...extra] = positionals;
  if (brokerArg === undefined) throw new CliError('which broker? kafka-broker tail <namespace/broker>');
  if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}" (one broker at a time)`);
  const ref = objectRef(brokerArg, undefined);
  const output = (stringFlag(values, 'output') ?? 'pretty') as TailOutput;
  if (!OUTPUTS.includes(output)) throw new CliError(`-o must be pretty, json or yaml, got "${output}"${didYouMean(output, OUTPUTS)}`);
  const maxData = Number(stringFlag(values, 'max-data') ?? '1024');
  if (!Number.isInteger(maxData) || maxData < 0) throw new CliError('--max-data must be a number of bytes');
  const query = new URLSearchParams();
  for (const [flag, param] of [['trigger', 'trigger'], ['filter', 'filter'], ['from', 'from'], ['last', 'n']] as const) {
    const value = stringFlag(values, flag);
    if (value !== undefined) query.set(param, value);
  }
  if (query.has('trigger') && query.has('filter')) throw new CliError('give --trigger or --filter, not both');
  if (query.has('from') && query.has('n')) throw new CliError('give --from or -n, not both');

  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const client = await adminClient(values, io);
    const path = `/tail/${encodeURIComponent(ref.namespace ?? 'default')}/${encodeURIComponent(ref.name)}${query.size > 0 ? `?${query}` : ''}`;
    const response = await client.stream(path, stop.signal);
    for await (const message of serverSentEvents(response.body!, stop.signal)) {
      if (message.event === 'error') throw new CliError(`tail ended: ${(JSON.parse(message.data) as { message: string }).message}`);
      const item = JSON.parse(message.data) as Record<string, unknown>;
      io.stdout.write(render(item, message.event, output, maxData));
    }
    if (!stop.signal.aborted) throw new CliError('the admin API ended the stream');
    return 0;
  } catch (error) {
    if (stop.signal.aborted) return 0;
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

interface SseMessage {
  readonly event: string;
  readonly data: string;
}

/** The messages of a text/event-stream body (comments and ids are skipped). */
async function* serverSentEvents(body: ReadableStream<Uint8Array>, signal: AbortSignal): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        if (data.length > 0) yield { event, data: data.join('\n') };
      }
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}

const CORE = new Set(['specversion', 'id', 'source', 'type', 'time', 'datacontenttype', 'dataschema', 'subject', 'data', 'data_base64', 'partition', 'offset', 'appended']);

/** One event as the output format shows it: pure, for tests. */
export function render(item: Record<string, unknown>, kind: string, output: TailOutput, maxData: number): string {
  if (output === 'json') return `${JSON.stringify(item)}\n`;
  if (output === 'yaml') return `---\n${stringify(item, { lineWidth: 0 })}`;
  const where = `[${String(item['partition'])}/${String(item['offset'])}]`;
  if (kind === 'undecodable') return `${String(item['appended'])} ${where} not a CloudEvent: ${String(item['problem'])}\n`;
  const head = `${String(item['time'] ?? item['appended'])}  ${String(item['type'])}  source=${String(item['source'])}  id=${String(item['id'])}  ${where}`;
  const extensions = Object.entries(item).filter(([name]) => !CORE.has(name)).map(([name, value]) => `${name}=${String(value)}`);
  const lines = [head];
  if (item['subject'] !== undefined) lines.push(`  subject=${String(item['subject'])}`);
  if (extensions.length > 0) lines.push(`  ${extensions.join('  ')}`);
  const data = dataText(item);
  if (data !== undefined) {
    const shown = data.length > maxData ? `${data.slice(0, maxData)}… (${data.length - maxData} more characters)` : data;
    lines.push(...shown.split('\n').map((l, i) => (i === 0 ? `  data: ${l}` : `        ${l}`)));
  }
  return `${lines.join('\n')}\n`;
}

function dataText(item: Record<string, unknown>): string | undefined {
  if (item['data'] !== undefined) return typeof item['data'] === 'string' ? item['data'] : JSON.stringify(item['data'], null, 2);
  if (typeof item['data_base64'] === 'string') {
    const bytes = Buffer.from(item['data_base64'], 'base64');
    const text = bytes.toString('utf8');
    // Binary data stays base64: a terminal should not get raw bytes.
    return [...text].some(isUnprintable) ? `(base64) ${item['data_base64']}` : text;
  }
  return undefined;
}

/** Control characters other than tab and line breaks, and the replacement character of bad UTF-8. */
function isUnprintable(char: string): boolean {
  const code = char.codePointAt(0)!;
  return (code < 0x20 && char !== '\t' && char !== '\n' && char !== '\r') || code === 0xfffd;
}
