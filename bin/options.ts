/**
 * Command-line parsing shared by every subcommand: flags through node:util's parseArgs, with
 * mistakes told in one line with a "did you mean" (never parseArgs' own message), and the flags
 * several commands take (ports, --log-format).
 */
import { parseArgs } from 'node:util';
import { commonEnv, logLevelSchema, portSchema } from '../core/config.js';
import { createLogger, logFormats, logLevels, type LogFormat, type Logger, type LoggerOptions } from '../core/logger.js';
import { didYouMean } from '../core/suggest.js';
import { CliError, UsageError, type CliIo } from './cli.js';

export type FlagSpec = Record<string, { readonly type: 'string' | 'boolean'; readonly short?: string; readonly multiple?: boolean }>;
export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** `--log-format json|pretty`, taken by every command that logs. */
export const LOG_FORMAT_FLAG = { 'log-format': { type: 'string' } } as const;

export interface ParsedCommandLine {
  readonly values: FlagValues;
  readonly positionals: string[];
}

/**
 * Parses `argv` against `flags` (plus -h/--help). An unknown flag, a flag without its value or
 * an unexpected argument is a UsageError naming it, e.g.
 * `unknown flag --prot; did you mean --port? (see kafka-broker start --help)`.
 */
export function parseCommandLine(argv: readonly string[], flags: FlagSpec, command: string, allowPositionals = false): ParsedCommandLine {
  const options = { ...flags, help: { type: 'boolean', short: 'h' } } as const satisfies FlagSpec;
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options, strict: true, allowPositionals });
    return { values: values as FlagValues, positionals };
  } catch (error) {
    throw new UsageError(`${usageProblem(error as NodeJS.ErrnoException, options)} (see kafka-broker ${command} --help)`);
  }
}

/** The one-line sentence for a parseArgs error; its own messages are long and mention JavaScript. */
function usageProblem(error: NodeJS.ErrnoException, flags: FlagSpec): string {
  const quoted = /'([^']+)'/.exec(error.message)?.[1];
  const names = Object.entries(flags).flatMap(([name, spec]) => [`--${name}`, ...(spec.short === undefined ? [] : [`-${spec.short}`])]);
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const flag = (quoted ?? '').split('=')[0]!;
      // A single-dash long name (-port) is read by parseArgs as short flags; suggest the long one.
      const asLong = /^-[^-]/.test(flag) && flag.length > 2 ? `-${flag}` : flag;
      return `unknown flag ${flag}${didYouMean(asLong, names)}`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const flag = /(--[\w-]+)/.exec(error.message)?.[1] ?? quoted ?? 'a flag';
      return flags[flag.replace(/^--/, '')]?.type === 'boolean' ? `flag ${flag} takes no value` : `flag ${flag} needs a value`;
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument "${quoted ?? ''}"`;
    default:
      return error.message.split('\n')[0]!;
  }
}

/** A flag's value when it is a string. */
export const stringFlag = (values: FlagValues, name: string): string | undefined => {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
};

export function parsePort(flag: string, value: unknown, fallback: number): number {
  const parsed = portSchema.safeParse(typeof value === 'string' ? value : fallback);
  if (!parsed.success) throw new CliError(`${flag} must be a port number (0-65535), got "${String(value)}"`);
  return parsed.data;
}

/**
 * `--log-format`, else $LOG_FORMAT, else readable lines when stderr is a terminal and JSON
 * otherwise (a file, a pipe, a log collector).
 */
export function logFormatFrom(values: FlagValues, io: CliIo): LogFormat {
  const given = stringFlag(values, 'log-format') ?? (io.env['LOG_FORMAT'] || undefined);
  if (given === undefined) return isTerminal(io.stderr) ? 'pretty' : 'json';
  if (!(logFormats as readonly string[]).includes(given)) {
    throw new CliError(`--log-format must be ${logFormats.join(' or ')}, got "${given}"${didYouMean(given, logFormats)}`);
  }
  return given as LogFormat;
}

export const isTerminal = (stream: NodeJS.WritableStream): boolean => (stream as { isTTY?: boolean }).isTTY === true;

/** The process's logger: $LOG_LEVEL (default info) and the log format of `values`. */
export function loggerFrom(io: CliIo, values: FlagValues = {}): Logger {
  return createLogger(loggerOptionsFrom(io, values));
}

/** What loggerFrom makes a logger with (a worker thread makes the same one from these). */
export function loggerOptionsFrom(io: CliIo, values: FlagValues = {}): Pick<LoggerOptions, 'level' | 'format' | 'colorize'> {
  const level = logLevelSchema.safeParse(commonEnv(io.env).logLevel);
  if (!level.success) throw new CliError(`LOG_LEVEL must be one of ${logLevels.join(', ')}`);
  const format = logFormatFrom(values, io);
  return { level: level.data, format, colorize: format === 'pretty' && isTerminal(io.stderr) };
}
