import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DataPlaneReports, type DataPlaneReport, type DataPlaneRole } from '../../../controller/data-plane-reports.js';

/** Which processes reported what, and whether a resource carried by a generation is available to them. */

interface Case {
  readonly name: string;
  /** Reports as [process, role, applied, ms before now the poll ended; undefined: still held]. */
  readonly reports: readonly (readonly [string, DataPlaneRole, number, number | undefined])[];
  readonly required: number;
  readonly roles: readonly DataPlaneRole[];
  readonly expected: true | string;
}

const FRESH_MS = 1000;

const cases: Case[] = [
  { name: 'nobody reported: not judged', reports: [], required: 5, roles: ['ingress', 'dispatcher'], expected: true },
  { name: 'every process applied the generation', reports: [['i1', 'ingress', 5, undefined], ['d1', 'dispatcher', 6, undefined]], required: 5, roles: ['ingress', 'dispatcher'], expected: true },
  {
    name: 'one ingress of two is behind',
    reports: [['i1', 'ingress', 5, undefined], ['i2', 'ingress', 4, undefined], ['d1', 'dispatcher', 5, undefined]],
    required: 5, roles: ['ingress', 'dispatcher'],
    expected: '1 of 2 ingress processes have applied contract generation 5',
  },
  { name: 'a role the resource does not need is not looked at', reports: [['i1', 'ingress', 5, undefined], ['d1', 'dispatcher', 1, undefined]], required: 5, roles: ['ingress'], expected: true },
  { name: 'a poll that ended recently still counts', reports: [['i1', 'ingress', 5, FRESH_MS - 1]], required: 5, roles: ['ingress'], expected: true },
  { name: 'a stale process that was behind no longer holds it back', reports: [['i1', 'ingress', 5, undefined], ['i2', 'ingress', 1, FRESH_MS + 1]], required: 5, roles: ['ingress'], expected: true },
  {
    name: 'every process of a role that reported went away',
    reports: [['i1', 'ingress', 5, undefined], ['d1', 'dispatcher', 5, FRESH_MS + 1]],
    required: 5, roles: ['ingress', 'dispatcher'],
    expected: 'no dispatcher process has asked for the contract in the last 1 s',
  },
  {
    name: 'both roles behind: both said',
    reports: [['i1', 'ingress', 3, undefined], ['d1', 'dispatcher', 4, undefined]],
    required: 5, roles: ['ingress', 'dispatcher'],
    expected: '0 of 1 ingress processes have applied contract generation 5; 0 of 1 dispatcher processes have applied contract generation 5',
  },
];

describe('DataPlaneReports.availability', () => {
  for (const c of cases) {
    test(c.name, () => {
      let now = 100_000;
      const reports = new DataPlaneReports({ freshMs: FRESH_MS, now: () => now });
      for (const [process, role, applied, endedAgo] of c.reports) {
        if (endedAgo === undefined) {
          reports.polling({ process, role, applied });
          continue;
        }
        now -= endedAgo;
        reports.polling({ process, role, applied })();
        now += endedAgo;
      }
      const seen = reports.availability(c.required, c.roles);
      reports.close();
      assert.deepEqual(seen, c.expected === true ? { available: true } : { available: false, message: c.expected });
    });
  }
});

describe('DataPlaneReports.changes', () => {
  test('wakes on a new process and a new generation, not on the same report again', () => {
    const reports = new DataPlaneReports();
    let calls = 0;
    reports.changes(() => calls++);
    const report: DataPlaneReport = { process: 'd1', role: 'dispatcher', applied: 1 };
    reports.polling(report)();
    reports.polling(report)();
    reports.polling({ ...report, applied: 2 })();
    reports.close();
    assert.equal(calls, 2);
  });

  test('wakes when a process goes stale', async () => {
    const reports = new DataPlaneReports({ freshMs: 30 });
    // The expiry timer does not hold the process open; this test must wait for it.
    const keepAlive = setInterval(() => {}, 1000);
    const woken = new Promise<void>((resolve) => reports.changes(resolve));
    reports.report({ process: 'd1', role: 'dispatcher', applied: 1 });
    await woken; // the report itself
    const stale = new Promise<void>((resolve) => reports.changes(resolve));
    await stale;
    assert.deepEqual(reports.availability(1, ['dispatcher']), { available: false, message: 'no dispatcher process has asked for the contract in the last 0 s' });
    reports.close();
    clearInterval(keepAlive);
  });
});

describe('DataPlaneReports.whenServing', () => {
  interface WaitCase {
    readonly name: string;
    /** Ingress processes before the wait, as [process, applied]; each holds its poll. */
    readonly before: readonly (readonly [string, number])[];
    /** What happens while it waits; `end` ends a process's held poll. */
    readonly during: (reports: DataPlaneReports, end: (process: string) => void) => void;
    readonly expected: boolean;
  }
  const GENERATION = 3;
  const WITHIN_MS = 200;
  const cases: WaitCase[] = [
    { name: 'no ingress has reported: not judged, at once', before: [], during: () => {}, expected: true },
    { name: 'every ingress already serves it (or later)', before: [['i1', 3], ['i2', 4]], during: () => {}, expected: true },
    { name: 'the last one behind catches up', before: [['i1', 3], ['i2', 2]], during: (r) => r.report({ process: 'i2', role: 'ingress', applied: 3 }), expected: true },
    { name: 'the one behind ends its poll and goes stale (freshMs 50 ms)', before: [['i1', 3], ['i2', 0]], during: (_r, end) => end('i2'), expected: true },
    { name: 'a new one behind appears, then the first catches up: the deadline', before: [['i1', 2]], during: (r) => {
      r.polling({ process: 'i2', role: 'ingress', applied: 0 });
      r.report({ process: 'i1', role: 'ingress', applied: 3 });
    }, expected: false },
    { name: 'still behind at the deadline', before: [['i1', 3], ['i2', 2]], during: () => {}, expected: false },
    { name: 'a dispatcher serving it does not count', before: [['i1', 2]], during: (r) => r.report({ process: 'd1', role: 'dispatcher', applied: 3 }), expected: false },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const reports = new DataPlaneReports({ freshMs: 50 });
      const polls = new Map(c.before.map(([process, applied]) => [process, reports.polling({ process, role: 'ingress', applied })]));
      const started = performance.now();
      const served = reports.whenServing('ingress', GENERATION, WITHIN_MS);
      setTimeout(() => c.during(reports, (process) => polls.get(process)?.()), 10);
      assert.equal(await served, c.expected);
      const waited = performance.now() - started;
      reports.close();
      // Served: well before the deadline; not served: not before it (timers may fire a little early).
      if (c.expected) assert.ok(waited < WITHIN_MS - 50, `resolved after ${waited} ms`);
      else assert.ok(waited >= WITHIN_MS - 5, `gave up after ${waited} ms`);
    });
  }

  test('close ends a wait at once, unserved', async () => {
    const reports = new DataPlaneReports();
    reports.polling({ process: 'i1', role: 'ingress', applied: 0 });
    const served = reports.whenServing('ingress', 1, 60_000);
    reports.close();
    assert.equal(await served, false);
  });
});

test('POST /data-plane/faults carries rewind outcomes: merged per group over live dispatchers, each id once; a bad one is refused', async () => {
  const { createAdminServer, registerResourceRoutes } = await import('../../../controller/admin.js');
  const { silentLogger } = await import('../../../core/logger.js');
  let now = 0;
  const reports = new DataPlaneReports({ freshMs: 1000, now: () => now });
  const app = createAdminServer({ logger: silentLogger() });
  registerResourceRoutes(app, { objects: () => [], problems: () => [], contract: () => undefined, dataPlaneReports: reports });
  await app.ready();
  try {
    const outcome = (id: string) => ({ id, kind: 'rewind', state: 'done', who: 'kubectl-annotate', at: '2026-12-04T10:00:00.000Z', to: 'earliest', from: '0:3', redelivered: 3, skipped: 0, generation: 7 });
    const post = (process: string, rewinds: unknown) => app.inject({
      method: 'POST', url: '/data-plane/faults', headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ process, role: 'dispatcher', faults: [], ...(rewinds === undefined ? {} : { rewinds }) }),
    });
    assert.equal((await post('d-1', [{ group: 'g', outcomes: [outcome('a')] }])).statusCode, 204);
    assert.equal((await post('d-2', [{ group: 'g', outcomes: [outcome('a'), outcome('b')] }])).statusCode, 204);
    assert.equal((await post('d-3', undefined)).statusCode, 204, 'a dispatcher without outcomes sends none');
    assert.deepEqual(reports.rewindOutcomes().get('g')?.map((o) => o.id), ['a', 'b']);
    const bad = await post('d-4', [{ group: 'g', outcomes: [{ ...outcome('c'), state: 'maybe' }] }]);
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json<{ message: string }>().message, /^invalid faults report: rewinds\.0\.outcomes\.0\.state/);
    // Gone quiet for longer than freshMs: their outcomes no longer count (status keeps what was recorded).
    now += 5000;
    assert.equal(reports.rewindOutcomes().size, 0);
  } finally {
    await app.close();
  }
});
