/**
 * The `kafka-broker` command line. Each subcommand is a module under bin/commands/ exporting
 * `run(argv, io)`; this file only picks one, and turns any failure into one line on stderr and a
 * non-zero exit — never a stack trace.
 */
import { readFileSync } from 'node:fs';
import { isBrokerError } from '../core/errors.js';
import { didYouMean } from '../core/suggest.js';
import { boundHeapGrowth } from './heap-growth.js';
import { dropKafkajsTimerWarnings } from './node-warnings.js';

export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** A failure the user caused (bad flag, missing folder): printed as one line, exit code 1. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/**
 * A command line that cannot be read (unknown flag or command): printed as
 * `kafka-broker: <message>`, since it is about the words typed, not what the command did.
 */
export class UsageError extends CliError {}

interface Command {
  readonly summary: string;
  readonly load: () => Promise<{ run(argv: string[], io: CliIo): Promise<number | void> }>;
}

const commands = new Map<string, Command>();

/** Registers a subcommand; called by bin/commands/index.ts. */
export function registerCommand(name: string, command: Command): void {
  commands.set(name, command);
}

function version(): string {
  // bin/cli.ts runs from the sources (../package.json) or compiled from dist/bin (../../package.json).
  for (const candidate of ['../package.json', '../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(candidate, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      // not there: try the next
    }
  }
  return 'unknown';
}

function help(): string {
  const names = [...commands.keys()];
  const width = Math.max(10, ...names.map((n) => n.length)) + 2;
  return [
    'kafka-broker: a Knative Eventing broker backed by Apache Kafka (or memory, for development)',
    '',
    'Usage: kafka-broker <command> [options]',
    '',
    'Commands:',
    ...names.map((n) => `  ${n.padEnd(width)}${commands.get(n)!.summary}`),
    '',
    'Options:',
    '  -h, --help      show help (also: kafka-broker <command> --help)',
    '  -v, --version   show the version',
    '',
  ].join('\n');
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  await import('./commands/index.js');
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    io.stdout.write(help());
    return first === undefined ? 1 : 0;
  }
  if (first === '-v' || first === '--version' || first === 'version') {
    io.stdout.write(`${version()}\n`);
    return 0;
  }
  const command = commands.get(first);
  if (command === undefined) {
    const what = first.startsWith('-') ? 'flag' : 'command';
    const known = what === 'flag' ? ['--help', '--version'] : [...commands.keys()];
    io.stderr.write(`kafka-broker: unknown ${what} ${first}${didYouMean(first, known)} (see kafka-broker --help)\n`);
    return 1;
  }
  try {
    const module = await command.load();
    return (await module.run(rest, io)) ?? 0;
  } catch (error) {
    io.stderr.write(error instanceof UsageError ? `kafka-broker: ${error.message}\n` : `kafka-broker ${first}: ${describe(error)}\n`);
    return error instanceof CliError ? error.exitCode : 1;
  }
}

function describe(error: unknown): string {
  if (error instanceof CliError || isBrokerError(error)) return error.message;
  if (error instanceof Error) return error.message.split('\n')[0]!;
  return String(error);
}

// Run when executed as the program (not when imported by tests).
const invokedAsProgram = process.argv[1] !== undefined && /kafka-broker(\.js)?$|cli\.[jt]s$/.test(process.argv[1]);
if (invokedAsProgram) {
  // Before any command runs: long-running ones keep their heap near what is live (bin/heap-growth.ts).
  boundHeapGrowth();
  dropKafkajsTimerWarnings();
  main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`kafka-broker: ${describe(error)}\n`);
      process.exitCode = 1;
    },
  );
}
