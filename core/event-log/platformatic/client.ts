import type { BaseOptions } from '@platformatic/kafka';
import { PLAINTEXT, platformaticSecurity, type KafkaSecurity } from '../kafka/security.js';
import { readTaggedFieldsAsKafkaWrites } from './tagged-fields.js';

// Before any client of the library reads a response (see tagged-fields.ts).
readTaggedFieldsAsKafkaWrites();

export interface PlatformaticConnection {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly security?: KafkaSecurity | undefined;
}

/**
 * The connection options every @platformatic/kafka client of the adapter shares: the same
 * servers, credentials and certificates as the kafkajs clients, and bounded retries (a write
 * that cannot be made must fail, not hang).
 */
export function platformaticBaseOptions(connection: PlatformaticConnection, suffix: string): BaseOptions {
  return {
    clientId: `${connection.clientId}-${suffix}`,
    bootstrapBrokers: [...connection.brokers],
    connectTimeout: 3000,
    timeout: 10_000,
    retries: 3,
    retryDelay: 200,
    // Partition counts change under us only when a topic is recreated; appends ask the admin first.
    metadataMaxAge: 30_000,
    autocreateTopics: false,
    ...platformaticSecurity(connection.security ?? PLAINTEXT),
  };
}
