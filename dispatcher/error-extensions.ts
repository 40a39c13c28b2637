import type { CloudEvent } from '../core/cloudevents/event.js';
import { withoutTtl } from '../core/cloudevents/ttl.js';
import type { Egress, Resource } from '../core/contract/types.js';
import type { AttemptFailure } from './retry-policy.js';

/**
 * The event sent to a dead-letter sink: the original event as read from the topic, with
 * extensions that say why it is there, and nothing else changed but the broker's TTL
 * (`knativebrokerttl`), which is our bookkeeping and never leaves the broker.
 *
 * Knative's (Knative Eventing, "Dead letter sink" / DeliverySpec):
 *   - `knativeerrordest`  the URL the event failed for (the subscriber, or the reply URL);
 *   - `knativeerrorcode`  the last HTTP status received (absent when none: timeout, network error);
 *   - `knativeerrordata`  the last response body, base64, its first 1024 bytes (absent when empty).
 *
 * Ours, so that operators (and the dead-letter list/replay tooling) know what it failed for:
 *   - `knativeerrortrigger`       `<namespace>/<name>` of the Trigger (egress.reference.kind Trigger);
 *   - `knativeerrorsubscription`  `<namespace>/<name>` of the Subscription (kind Subscription);
 *   - `knativeerrorbroker`        `<namespace>/<name>` of the resource the event was read from
 *                                 (the Broker, or the Channel for a Subscription).
 * Any of these already on the event (an event that was dead-lettered before and replayed) is
 * replaced, so the marks always describe the latest failure.
 */
export const ERROR_DEST = 'knativeerrordest';
export const ERROR_CODE = 'knativeerrorcode';
export const ERROR_DATA = 'knativeerrordata';
export const ERROR_TRIGGER = 'knativeerrortrigger';
export const ERROR_SUBSCRIPTION = 'knativeerrorsubscription';
export const ERROR_BROKER = 'knativeerrorbroker';

/** The extensions a dead letter carries about its failure (a replayed event goes without them). */
export const ERROR_EXTENSIONS = [ERROR_DEST, ERROR_CODE, ERROR_DATA, ERROR_TRIGGER, ERROR_SUBSCRIPTION, ERROR_BROKER] as const;

/** Knative's limit on the response body carried in `knativeerrordata`. */
export const ERROR_DATA_MAX_BYTES = 1024;

/** What the last failed attempt returned, as far as the dead-letter marks need it. */
export interface LastFailure {
  /** The URL the failed attempt went to. */
  readonly destination: string;
  readonly failure: AttemptFailure;
  /** The response body of that attempt, if there was a response. */
  readonly body?: Buffer | undefined;
}

export function deadLetterEvent(event: CloudEvent, last: LastFailure, resource: Resource, egress: Egress): CloudEvent {
  // Spread, not Object.assign: an attribute named `__proto__` stays an own attribute.
  const attributes: Record<string, string | number | boolean> = { ...withoutTtl(event).attributes };
  for (const name of ERROR_EXTENSIONS) delete attributes[name];

  attributes[ERROR_DEST] = last.destination;
  const status = statusOf(last.failure);
  if (status !== undefined) attributes[ERROR_CODE] = String(status);
  if (last.body !== undefined && last.body.length > 0) {
    attributes[ERROR_DATA] = last.body.subarray(0, ERROR_DATA_MAX_BYTES).toString('base64');
  }

  const egressRef = `${egress.reference.namespace}/${egress.reference.name}`;
  if (egress.reference.kind === 'Trigger') attributes[ERROR_TRIGGER] = egressRef;
  else if (egress.reference.kind === 'Subscription') attributes[ERROR_SUBSCRIPTION] = egressRef;
  attributes[ERROR_BROKER] = `${resource.reference.namespace}/${resource.reference.name}`;

  return event.data === undefined ? { attributes } : { attributes, data: event.data };
}

function statusOf(failure: AttemptFailure): number | undefined {
  switch (failure.kind) {
    case 'status':
    case 'invalid-reply':
      return failure.status;
    case 'timeout':
    case 'network':
      return undefined;
    default: {
      const never: never = failure;
      return never;
    }
  }
}
