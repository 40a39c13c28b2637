import { Kafka, logLevel as KafkaLogLevel, type LogEntry } from 'kafkajs';
import type { Logger } from '../../logger.js';
import { kafkajsSecurity, PLAINTEXT, type KafkaSecurity } from './security.js';

/** The kafkajs client every part of the adapter shares: its connection settings and its logs. */
export function createKafkaClient(
  options: {
    readonly brokers: readonly string[];
    readonly clientId: string;
    readonly security?: KafkaSecurity | undefined;
    readonly onClientError?: ((operation: string) => void) | undefined;
  },
  logger: Logger,
): Kafka {
  const onError = options.onClientError;
  return new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    ...kafkajsSecurity(options.security ?? PLAINTEXT),
    // A refused password fails at once (kafkajs does not retry it); a TLS failure is retried like
    // any connection error, so the retry settings below bound how long it takes to surface.
    authenticationTimeout: 10_000,
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 2000 },
    logLevel: KafkaLogLevel.WARN,
    logCreator: () => (entry) => {
      if (onError !== undefined && entry.level <= KafkaLogLevel.ERROR) onError(entry.namespace || 'client');
      kafkajsLog(logger, entry);
    },
  });
}

function kafkajsLog(logger: Logger, { namespace, level, log }: LogEntry): void {
  const { message, ...fields } = log;
  // kafkajs reports every connection retry as an error; ours are quieter, the caller decides.
  const method = level <= KafkaLogLevel.ERROR ? 'warn' : level === KafkaLogLevel.WARN ? 'info' : 'debug';
  logger[method]({ kafkajs: namespace, ...fields }, message);
}
