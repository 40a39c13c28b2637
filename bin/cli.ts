/**
 * The `kafka-broker` command line. Each subcommand is a module under bin/commands/ exporting
 * `run(argv, io)`; this file only picks one, and turns any failure into one line on stderr and a
 * non-zero exit — never a stack trace.
 */
import { readFileSync } from 'node:fs';
import { isBrokerError } from '../core/errors.js';

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

interface Command {
  readonly summary: string;
  readonly load: () => Promise<{ run(argv: string[], io: CliIo): Promise<number | void> }>;
}

const commands: Record<string, Command> = {};

/** Registers a subcommand; called by bin/commands/index.ts. */
export function registerCommand(name: string, command: Command): void {
  commands[name] = command;
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
  const names = Object.keys(commands);
  const width = Math.max(10, ...names.map((n) => n.length)) + 2;
  return [
    'kafka-broker: a Knative Eventing broker backed by Apache Kafka (or memory, for development)',
    '',
    'Usage: kafka-broker <command> [options]',
    '',
    'Commands:',
    ...names.map((n) => `  ${n.padEnd(width)}${commands[n]!.summary}`),
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
  const command = commands[first];
  if (command === undefined) {
    io.stderr.write(`kafka-broker: unknown command '${first}' (see kafka-broker --help)\n`);
    return 1;
  }
  try {
    const module = await command.load();
    return (await module.run(rest, io)) ?? 0;
  } catch (error) {
    io.stderr.write(`kafka-broker ${first}: ${describe(error)}\n`);
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
