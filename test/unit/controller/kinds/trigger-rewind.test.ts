import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REWIND_ID_ANNOTATION, REWIND_TO_ANNOTATION, SKIP_TO_ANNOTATION, type RewindOutcome } from '../../../../core/rewind.js';
import { recordedRewinds, rewindRecords, rewindRequestedBy, rewindRequestOf } from '../../../../controller/kinds/trigger-rewind.js';
import { statusEvents } from '../../../../controller/resource-events.js';
import type { KnObject } from '../../../../controller/resources.js';
import { describeObject } from '../../../../bin/commands/describe.js';
import { computeDesired } from '../../../../controller/desired.js';
import { broker, observed, settings, trigger } from '../fixtures.js';

/** `recorded` null: a source that keeps no status (manifests). */
const withAnnotations = (annotations: Record<string, string>, recorded: KnObject['recorded'] | null = { rewinds: [], requestedBy: 'kubectl-annotate' }, uid = 'uid-1'): KnObject => {
  const t = trigger('t', { broker: 'b' });
  return { ...t, metadata: { ...t.metadata, uid, annotations }, ...(recorded === null ? {} : { recorded }) };
};

const outcome = (id: string, overrides: Partial<RewindOutcome> = {}): RewindOutcome => ({
  id, kind: 'rewind', state: 'done', who: 'kubectl-annotate', at: '2026-12-04T10:00:00.000Z', to: 'earliest', from: '0:5', redelivered: 5, skipped: 0, generation: 3, ...overrides,
});

test('rewindRequestOf: what the annotations ask for, with an id that changes only with uid, kind, target and rewind-id', () => {
  assert.equal(rewindRequestOf(withAnnotations({})), undefined);
  const first = rewindRequestOf(withAnnotations({ [REWIND_TO_ANNOTATION]: 'earliest' }));
  assert.ok(first !== undefined && 'request' in first);
  assert.deepEqual({ ...first.request, id: undefined }, { id: undefined, kind: 'rewind', to: 'earliest', who: 'kubectl-annotate' });
  assert.match(first.request.id, /^[0-9a-f]{16}$/);
  const idOf = (annotations: Record<string, string>, uid = 'uid-1'): string => {
    const r = rewindRequestOf(withAnnotations(annotations, { rewinds: [] }, uid));
    assert.ok(r !== undefined && 'request' in r, JSON.stringify(annotations));
    return r.request.id;
  };
  assert.equal(idOf({ [REWIND_TO_ANNOTATION]: 'earliest', 'other': 'x' }), first.request.id, 'other annotations do not matter');
  const different = [
    idOf({ [REWIND_TO_ANNOTATION]: 'earliest' }, 'uid-2'),
    idOf({ [REWIND_TO_ANNOTATION]: 'latest' }),
    idOf({ [SKIP_TO_ANNOTATION]: 'latest' }),
    idOf({ [REWIND_TO_ANNOTATION]: 'earliest', [REWIND_ID_ANNOTATION]: 'again' }),
  ];
  assert.equal(new Set([first.request.id, ...different]).size, 5);
  assert.equal((rewindRequestOf(withAnnotations({ [SKIP_TO_ANNOTATION]: '2026-12-04T10:00:00Z' })) as { request: { kind: string } }).request.kind, 'skip');
});

test('rewindRequestOf: a bad annotation is a problem naming it, in one line', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ [REWIND_TO_ANNOTATION]: 'yesterday' }, /^"yesterday": give earliest, latest/],
    [{ [SKIP_TO_ANNOTATION]: 'earliest' }, /skip takes a time or latest/],
    [{ [SKIP_TO_ANNOTATION]: '0:5' }, /skip takes a time or latest/],
    [{ [REWIND_TO_ANNOTATION]: 'earliest', [SKIP_TO_ANNOTATION]: 'latest' }, /not both/],
  ];
  for (const [annotations, message] of cases) {
    const r = rewindRequestOf(withAnnotations(annotations));
    assert.ok(r !== undefined && 'problem' in r, JSON.stringify(annotations));
    assert.match(r.problem.message, message);
    assert.match(r.problem.path, /^metadata\.annotations\.kafka-broker\.knative\.dev\//);
  }
});

test('rewindRequestedBy: the last manager that wrote a rewind annotation', () => {
  const entry = (manager: string, time: string, annotations: string[]): unknown => ({
    manager, operation: 'Update', time, fieldsType: 'FieldsV1',
    fieldsV1: { 'f:metadata': { 'f:annotations': Object.fromEntries(annotations.map((a) => [`f:${a}`, {}])) } },
  });
  assert.equal(rewindRequestedBy(undefined), undefined);
  assert.equal(rewindRequestedBy([entry('kubectl-create', '2026-12-04T09:00:00Z', ['example.com/x'])]), undefined);
  assert.equal(rewindRequestedBy([
    entry('alice-tool', '2026-12-04T09:00:00Z', [REWIND_TO_ANNOTATION]),
    entry('kubectl-annotate', '2026-12-04T10:00:00Z', [REWIND_ID_ANNOTATION]),
    entry('kafka-broker-controller', '2026-12-04T11:00:00Z', []),
    'not an entry',
  ]), 'kubectl-annotate');
});

test('recordedRewinds and rewindRecords: status entries of the right shape, then new outcomes, each id once, bounded', () => {
  assert.deepEqual(recordedRewinds({ rewinds: [outcome('a'), { id: 'b' }, 'x'] }).map((r) => r.id), ['a']);
  assert.deepEqual(recordedRewinds(undefined), []);
  assert.deepEqual(rewindRecords([outcome('a')], [outcome('a', { who: 'other' }), outcome('b')]).map((r) => [r.id, r.who]), [['a', 'kubectl-annotate'], ['b', 'kubectl-annotate']]);
  const many = Array.from({ length: 15 }, (_, i) => outcome(`id-${i}`));
  assert.deepEqual(rewindRecords(many.slice(0, 8), many.slice(8)).map((r) => r.id), many.slice(5).map((r) => r.id));
});

test('computeDesired: the request rides on the egress until status has its id; manifests (no recorded status) ignore it', () => {
  const T = 'knative-broker-default-b';
  const G = 'knative-trigger-default-t';
  const seen = observed({ [T]: { owner: 'Broker/default/b' } }, { [G]: { topic: T, owner: 'Trigger/default/t' } });
  const egressOf = (t: KnObject, obs = seen) => computeDesired([broker('b'), t], new Map(), obs, settings).resources.flatMap((r) => r.egresses)[0]!;
  const asked = withAnnotations({ [REWIND_TO_ANNOTATION]: 'earliest' });
  const request = egressOf(asked).rewind!;
  assert.equal(request.to, 'earliest');
  assert.equal(egressOf(withAnnotations({ [REWIND_TO_ANNOTATION]: 'earliest' }, null)).rewind, undefined, 'no status kept: not acted on');
  // Reported by a dispatcher: recorded in status, and no longer asked for.
  const reported = { ...seen, rewindOutcomes: new Map([[G, [outcome(request.id)]]]) };
  const desired = computeDesired([broker('b'), asked], new Map(), reported, settings);
  assert.equal(desired.resources.flatMap((r) => r.egresses)[0]!.rewind, undefined);
  assert.deepEqual(desired.statuses.get('Trigger/default/t')!.rewinds!.map((r) => r.id), [request.id]);
  // Recorded in the object's status (after a restart): still not asked for again.
  assert.equal(egressOf(withAnnotations({ [REWIND_TO_ANNOTATION]: 'earliest' }, { rewinds: [outcome(request.id)] })).rewind, undefined);
});

test('statusEvents: a new rewind outcome is one Event (Normal when done, Warning when failed); not on a first pass, not twice', () => {
  const t = withAnnotations({});
  const base = { observedGeneration: 1, conditions: [] };
  const done = statusEvents(t, base, { ...base, rewinds: [outcome('a')] }, false);
  assert.deepEqual(done.map((e) => [e.type, e.reason, e.message]), [['Normal', 'Rewound', 'rewind to earliest asked by kubectl-annotate: 5 events re-delivered, 0 skipped (from 0:5)']]);
  const failed = statusEvents(t, { ...base, rewinds: [outcome('a')] }, { ...base, rewinds: [outcome('a'), outcome('b', { kind: 'skip', state: 'failed', message: 'GROUP_BUSY' })] }, false);
  assert.deepEqual(failed.map((e) => [e.type, e.reason, e.message]), [['Warning', 'SkipFailed', 'skip to earliest asked by kubectl-annotate failed: GROUP_BUSY']]);
  assert.deepEqual(statusEvents(t, undefined, { ...base, rewinds: [outcome('a')] }, true), []);
});

test('describe shows a trigger\'s status.rewinds when no dispatcher answers for them', () => {
  const object = { kind: 'Trigger', apiVersion: 'eventing.knative.dev/v1', metadata: { name: 't', namespace: 'default' }, status: { conditions: [], rewinds: [outcome('a'), outcome('b', { state: 'failed', message: 'no such partition', from: '' })] } };
  const text = describeObject(object, undefined, Date.parse('2026-12-04T11:00:00Z'));
  assert.match(text, /Rewinds: {2}2\n/);
  assert.match(text, /2026-12-04T10:00:00Z +kubectl-annotate +rewind +0:5 +earliest +5 +0/);
  assert.match(text, /rewind failed: no such partition/);
});
