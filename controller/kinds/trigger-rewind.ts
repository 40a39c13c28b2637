import { createHash } from 'node:crypto';
import { isBrokerError } from '../../core/errors.js';
import { MAX_REWIND_OUTCOMES, REWIND_ID_ANNOTATION, REWIND_TO_ANNOTATION, SKIP_TO_ANNOTATION, type EgressRewind, type RewindOutcome } from '../../core/rewind.js';
import { parseRewindTarget } from '../../core/rewind-target.js';
import type { KnObject } from '../resources.js';
import type { FieldError } from './admission.js';

/**
 * A Trigger's rewind annotations (Kubernetes mode), pure:
 *
 *   kafka-broker.knative.dev/rewind-to: earliest | latest | <RFC 3339 time> | <p>:<offset>,...
 *   kafka-broker.knative.dev/skip-to:   latest | <RFC 3339 time>
 *   kafka-broker.knative.dev/rewind-id: <any text>   (optional; change it to move to the same place again)
 *
 * We chose annotations over a small CRD: `kubectl annotate --overwrite` is all it takes, RBAC on
 * Triggers already says who may, and there is no second object to keep in step with its trigger.
 * The request's id is a digest of the trigger's uid and the three values, so applying the same
 * annotations again (or a restart of anything) asks for the same id; the trigger's egress carries
 * the request until `status.rewinds` holds an outcome with that id, and the dispatcher applies an
 * id once. So a request is applied once, never on every pass.
 */

export type RewindRequestOf = { readonly request: EgressRewind } | { readonly problem: FieldError } | undefined;

export function rewindRequestOf(object: KnObject): RewindRequestOf {
  const annotations = object.metadata.annotations;
  const get = (name: string): string | undefined => (Object.hasOwn(annotations, name) ? annotations[name] : undefined);
  const rewindTo = get(REWIND_TO_ANNOTATION);
  const skipTo = get(SKIP_TO_ANNOTATION);
  if (rewindTo === undefined && skipTo === undefined) return undefined;
  const path = (name: string): string => `metadata.annotations.${name}`;
  if (rewindTo !== undefined && skipTo !== undefined) {
    return { problem: { path: path(SKIP_TO_ANNOTATION), message: `give ${REWIND_TO_ANNOTATION} or ${SKIP_TO_ANNOTATION}, not both; neither is applied` } };
  }
  const kind = rewindTo !== undefined ? 'rewind' : 'skip';
  const name = kind === 'rewind' ? REWIND_TO_ANNOTATION : SKIP_TO_ANNOTATION;
  const to = (rewindTo ?? skipTo)!.trim();
  try {
    const target = parseRewindTarget(to);
    if (kind === 'skip' && target.kind !== 'latest' && target.kind !== 'time') {
      return { problem: { path: path(name), message: `skip takes a time or latest, got ${JSON.stringify(to)}` } };
    }
  } catch (error) {
    if (!isBrokerError(error)) throw error;
    return { problem: { path: path(name), message: error.message.replace(/^--to /, '') } };
  }
  const nonce = get(REWIND_ID_ANNOTATION) ?? '';
  const id = createHash('sha256').update([object.metadata.uid, kind, to, nonce].join('\u0000')).digest('hex').slice(0, 16);
  return { request: { id, kind, to, who: object.recorded?.requestedBy ?? 'unknown' } };
}

/** The record for status: what was recorded before, then what the dispatchers report since (each id once), newest last. */
export function rewindRecords(recorded: readonly RewindOutcome[], reported: readonly RewindOutcome[]): RewindOutcome[] {
  const records = [...recorded];
  for (const outcome of reported) if (!records.some((r) => r.id === outcome.id)) records.push(outcome);
  return records.slice(-MAX_REWIND_OUTCOMES);
}

/** The last writer of the rewind annotations in `metadata.managedFields` (the API's JSON), if any. */
export function rewindRequestedBy(managedFields: unknown): string | undefined {
  if (!Array.isArray(managedFields)) return undefined;
  let found: { manager: string; time: string } | undefined;
  for (const entry of managedFields as unknown[]) {
    if (!isObject(entry) || typeof entry['manager'] !== 'string') continue;
    const annotations = field(field(entry['fieldsV1'], 'f:metadata'), 'f:annotations');
    if (![REWIND_TO_ANNOTATION, SKIP_TO_ANNOTATION, REWIND_ID_ANNOTATION].some((a) => field(annotations, `f:${a}`) !== undefined)) continue;
    const time = typeof entry['time'] === 'string' ? entry['time'] : '';
    if (found === undefined || time >= found.time) found = { manager: entry['manager'], time };
  }
  return found?.manager;
}

/** The outcomes kept in an object's `status.rewinds` (the API's JSON); entries of another shape are dropped. */
export function recordedRewinds(status: unknown): RewindOutcome[] {
  const list = field(status, 'rewinds');
  if (!Array.isArray(list)) return [];
  return (list as unknown[]).filter((r): r is RewindOutcome => isObject(r) && typeof r['id'] === 'string' && (r['state'] === 'done' || r['state'] === 'failed')
    && (r['kind'] === 'rewind' || r['kind'] === 'skip') && typeof r['at'] === 'string' && typeof r['to'] === 'string').slice(-MAX_REWIND_OUTCOMES);
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const field = (value: unknown, name: string): unknown => (isObject(value) && Object.hasOwn(value, name) ? value[name] : undefined);
