import { BrokerError } from '../../errors.js';
import { securityError } from './security.js';

/**
 * Reading kafkajs's errors. Decisions are made on the Kafka protocol error a failure carries (its
 * `type`, kafkajs's name for the protocol's error code), never on message text: kafkajs wraps the
 * protocol error (KafkaJSProtocolError) in retry errors, which keep it as `cause`.
 */

/** The Kafka protocol error type of a kafkajs error, looking through retry wrappers. */
export function kafkaErrorType(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    const type = (current as { type?: unknown }).type;
    if (typeof type === 'string') return type;
    current = (current as { originalError?: unknown; cause?: unknown }).originalError ?? (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The error type of each group in a DeleteGroups failure (or of the failure itself). */
export function groupErrorTypes(error: unknown): string[] {
  const groups = (error as { groups?: { error?: { type?: string } }[] }).groups;
  if (Array.isArray(groups)) return groups.map((g) => g.error?.type ?? 'UNKNOWN');
  return [kafkaErrorType(error) ?? 'UNKNOWN'];
}

/**
 * Joining a group failed because it has live members, which have a position already. Seen when a
 * member using another protocol is in the group (INCONSISTENT_GROUP_PROTOCOL, Kafka error 23), and
 * what a group at `group.max.size` answers (GROUP_MAX_SIZE_REACHED, Kafka error 81).
 */
export function isLiveGroupError(error: unknown): boolean {
  const type = kafkaErrorType(error);
  return type === 'INCONSISTENT_GROUP_PROTOCOL' || type === 'GROUP_MAX_SIZE_REACHED';
}

/**
 * Kafka refused a record batch as too large for the topic (protocol errors 10 MESSAGE_TOO_LARGE,
 * 18 RECORD_LIST_TOO_LARGE), by type (both clients, see ../platformatic/errors.ts) or code.
 */
export function tooLargeFor(error: unknown): 'MESSAGE_TOO_LARGE' | 'RECORD_LIST_TOO_LARGE' | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && typeof current === 'object' && current !== null; depth++) {
    const { type, code } = current as { type?: unknown; code?: unknown };
    if (type === 'MESSAGE_TOO_LARGE' || code === 10) return 'MESSAGE_TOO_LARGE';
    if (type === 'RECORD_LIST_TOO_LARGE' || code === 18) return 'RECORD_LIST_TOO_LARGE';
    const next = current as { cause?: unknown; originalError?: unknown };
    current = next.originalError ?? next.cause;
  }
  return undefined;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * LOG_UNAVAILABLE (retriable) saying what failed and why; a BrokerError passes through, and a
 * refused credential or certificate is KAFKA_AUTH_FAILED / KAFKA_TLS_FAILED (security.ts).
 */
export function unavailable(message: string, cause: unknown): BrokerError {
  if (cause instanceof BrokerError) return cause;
  const security = securityError(message, cause);
  if (security !== undefined) return security;
  return new BrokerError('LOG_UNAVAILABLE', `${message}: ${errorMessage(cause)}`, { cause, retriable: true });
}
