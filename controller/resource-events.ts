import type { Condition, ObjectStatus } from './status.js';
import type { KnObject } from './resources.js';

/**
 * What an operator should hear about a resource, as Kubernetes Events say it (`kubectl describe`
 * lists them under the object): one per change worth a look, not one per pass. Pure: the
 * reconciler compares each object's status with the one before, and a sink (Kubernetes:
 * kubernetes/events.ts) writes what comes out.
 */

export interface ResourceEvent {
  readonly regarding: { readonly apiVersion: string; readonly kind: string; readonly namespace: string; readonly name: string; readonly uid: string };
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

/** Conditions that are not dependents of Ready but that an operator must still see happen. */
const WARNING_CONDITIONS = ['EventsSkipped', 'EventsHeld'] as const;

const find = (status: ObjectStatus | undefined, type: string): Condition | undefined => status?.conditions.find((c) => c.type === type);
const same = (a: Condition | undefined, b: Condition | undefined): boolean =>
  a?.status === b?.status && a?.reason === b?.reason && a?.message === b?.message;

/**
 * Not Ready only because the data plane has yet to serve the generation that first carries the
 * object, and never Ready before: the first moments of every new object (and of every start), not
 * news. A Ready object whose data plane falls behind or goes away is.
 *
 * `cause`: the reason at the root when Ready follows another object's (DesiredState.readyCauses:
 * a Trigger's BrokerNotReady whose broker has DataPlaneNotAvailable); else Ready's own reason.
 */
export function awaitingDataPlane(before: ObjectStatus | undefined, after: ObjectStatus, cause?: string): boolean {
  const now = find(after, 'Ready');
  if (now === undefined || now.status === 'True' || find(before, 'Ready')?.status === 'True') return false;
  return (cause ?? now.reason) === 'DataPlaneNotAvailable';
}

/**
 * The events one status change is worth. `first`: the controller's first pass, where a Ready
 * object is no news (every restart would announce every object), but one that is not Ready is.
 * `cause`: as for `awaitingDataPlane`.
 */
export function statusEvents(object: KnObject, before: ObjectStatus | undefined, after: ObjectStatus, first: boolean, cause?: string): ResourceEvent[] {
  const regarding = {
    apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name, uid: object.metadata.uid,
  };
  const events: ResourceEvent[] = [];
  const was = find(before, 'Ready');
  const now = find(after, 'Ready');
  if (now !== undefined && !same(was, now) && !(first && now.status === 'True') && !awaitingDataPlane(before, after, cause)) {
    if (now.status === 'True') events.push({ regarding, type: 'Normal', reason: 'Ready', message: `${object.kind} is Ready${now.message === undefined ? '' : `: ${now.message}`}` });
    else {
      events.push({
        regarding, type: 'Warning', reason: now.reason ?? 'NotReady',
        message: `${object.kind} is not Ready${now.message === undefined ? '' : `: ${now.message}`}`,
      });
    }
  }
  // A Trigger's rewinds (status.rewinds): each new outcome once; a restart's first pass is no news.
  for (const r of first ? [] : after.rewinds ?? []) {
    if ((before?.rewinds ?? []).some((b) => b.id === r.id)) continue;
    const what = r.kind === 'skip' ? 'skip' : 'rewind';
    events.push(r.state === 'done'
      ? { regarding, type: 'Normal', reason: r.kind === 'skip' ? 'Skipped' : 'Rewound', message: `${what} to ${r.to} asked by ${r.who}: ${r.redelivered} events re-delivered, ${r.skipped} skipped (from ${r.from || 'nothing committed'})` }
      : { regarding, type: 'Warning', reason: r.kind === 'skip' ? 'SkipFailed' : 'RewindFailed', message: `${what} to ${r.to} asked by ${r.who} failed: ${r.message ?? 'unknown error'}` });
  }
  for (const type of WARNING_CONDITIONS) {
    const c = find(after, type);
    if (c === undefined || c.status !== 'True' || same(find(before, type), c)) continue;
    events.push({ regarding, type: 'Warning', reason: c.reason ?? type, message: c.message ?? type });
  }
  return events;
}
