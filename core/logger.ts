import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

export interface LoggerOptions {
  readonly level?: LogLevel;
  /** Where JSON lines go; defaults to stderr so that command output on stdout stays clean. */
  readonly destination?: NodeJS.WritableStream;
  readonly name?: string;
}

/**
 * Logs are JSON lines (pino), quiet at `info`: start-up, shutdown, resource changes and problems.
 * Per-event detail is `debug`.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level: LevelWithSilent = options.level ?? 'info';
  const destination = options.destination ?? pino.destination({ fd: 2, sync: false });
  return pino({ level, name: options.name ?? 'kafka-broker', base: { pid: process.pid } }, destination as pino.DestinationStream);
}

/** A logger that writes nothing, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
