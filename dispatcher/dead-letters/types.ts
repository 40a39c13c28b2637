import type { AttributeValue } from '../../core/cloudevents/event.js';
import type { ReplayMark } from './replay-records.js';

/** The shapes of the dead-letters API: what the service returns, the routes send, and the CLI reads. */

export interface ObjectRef {
  readonly namespace: string;
  readonly name: string;
}

export interface SinkInfo extends ObjectRef {
  readonly topic: string;
  readonly path: string;
}

export interface FailedFor extends ObjectRef {
  readonly kind: 'Trigger' | 'Subscription';
}

export interface DeadLetter {
  /** `<sink namespace>/<sink name>/<partition>/<offset>`: names exactly this dead letter. */
  readonly ref: string;
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly subject?: string;
  readonly sink: ObjectRef & { readonly topic: string };
  readonly partition: number;
  readonly offset: string;
  /** RFC 3339: when the dead letter was written to the sink (the record's timestamp). */
  readonly deadLetteredAt: string;
  /** From `knativeerrortrigger` / `knativeerrorsubscription`; null when the event has neither. */
  readonly failedFor: FailedFor | null;
  /** From `knativeerrorbroker`: the broker (or channel) the event was read from. */
  readonly broker: string | null;
  readonly errorDest: string;
  readonly errorCode: number | null;
  /** The latest replay of this dead letter, if any. */
  readonly replay: ReplayMark | null;
}

/** Bytes shown as text when they are readable, else as base64. */
export interface Payload {
  readonly encoding: 'text' | 'base64';
  readonly value: string;
  readonly bytes: number;
}

export interface DeadLetterDetail extends DeadLetter {
  /** Every attribute, the dead-letter extensions included. */
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  readonly data: Payload | null;
  /** `knativeerrordata` decoded: the failed response's body (its first 1024 bytes). */
  readonly errorData: Payload | null;
}

export interface DeadLetterQuery {
  readonly sink?: ObjectRef;
  readonly trigger?: ObjectRef;
  readonly subscription?: ObjectRef;
  /** Only dead letters written at or after this time (ms since the epoch). */
  readonly since?: number;
  readonly type?: string;
  /** List: at most this many per page (default 100). */
  readonly limit?: number;
  /** List: the token a previous page returned as `continue`: this page starts where that one stopped. */
  readonly continue?: string;
}

export interface DeadLetterList {
  /** One page, in the order the sinks are read: sink by sink, partition by partition, oldest first within each. */
  readonly items: readonly DeadLetter[];
  /** The sinks that were read. */
  readonly sinks: readonly SinkInfo[];
  /** Records read for this page that are not dead letters (no `knativeerrordest`, or not CloudEvents). */
  readonly other: number;
  /** Present when the page is full and more records follow: pass it as `continue` for the next page. */
  readonly continue?: string;
}

export interface ReplayRequest {
  readonly ids?: readonly string[];
  readonly all?: boolean;
  /** With `all`: which dead letters. */
  readonly query?: DeadLetterQuery;
  readonly to?: string;
  readonly force?: boolean;
}

export interface ReplayResult {
  readonly ref: string;
  readonly id: string;
  readonly failedFor: FailedFor | null;
  /** `Trigger <ns>/<name>`, `Subscription <ns>/<name>`, or the URL given. */
  readonly target: string;
  /** Where the event was sent; null when it was not sent. */
  readonly destination: string | null;
  readonly outcome: 'delivered' | 'dead-lettered' | 'failed';
  readonly message?: string;
  /** Whether the replay record was written (false for a failure, or when the write failed). */
  readonly recorded: boolean;
}

export interface ReplayReport {
  readonly results: readonly ReplayResult[];
}
