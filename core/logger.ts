import { pino, type Logger, type LevelWithSilent } from 'pino';
import { PinoPretty } from 'pino-pretty';

export type { Logger };

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

export const logFormats = ['json', 'pretty'] as const;
/** `json`: one JSON object a line (for machines); `pretty`: one readable line per entry (for people). */
export type LogFormat = (typeof logFormats)[number];

export interface LoggerOptions {
  readonly level?: LogLevel;
  /** Where lines go; defaults to stderr so that command output on stdout stays clean. */
  readonly destination?: NodeJS.WritableStream;
  readonly name?: string;
  /** Default `json`. */
  readonly format?: LogFormat;
  /** `pretty` only: colour the level (a terminal). */
  readonly colorize?: boolean;
}

/**
 * Fields every line carries that a person reading a terminal does not need (`component` is
 * shown before the message instead).
 */
const PRETTY_HIDDEN = 'pid,hostname,name,component';

/**
 * Logs are pino entries, quiet at `info`: start-up, shutdown, one line per contract change, and
 * problems. Per-resource and per-event detail is `debug`.
 *
 * `pretty` formats in this process with pino-pretty as a plain destination stream (not a worker
 * transport), so it works the same from the sources and from the compiled package.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level: LevelWithSilent = options.level ?? 'info';
  const settings = { level, name: options.name ?? 'kafka-broker', base: { pid: process.pid } };
  if (options.format === 'pretty') {
    const stream = PinoPretty({
      destination: options.destination ?? 2,
      sync: true,
      colorize: options.colorize ?? false,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: PRETTY_HIDDEN,
      singleLine: true,
      messageFormat: '{if component}{component}: {end}{msg}',
    });
    return pino(settings, stream);
  }
  const destination = options.destination ?? pino.destination({ fd: 2, sync: false });
  return pino(settings, destination as pino.DestinationStream);
}

/** A logger that writes nothing, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
