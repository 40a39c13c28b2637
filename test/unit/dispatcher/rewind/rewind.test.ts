import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planMoves, totals } from '../../../../dispatcher/rewind/plan.js';
import { describeTarget, parseRewindTarget } from '../../../../dispatcher/rewind/target.js';
import { render } from '../../../../bin/commands/tail.js';
import { REPLAY_EXTENSION } from '../../../../dispatcher/dispatch.js';
import { ATTRIBUTE_NAME, ATTRIBUTE_NAME_ADVISED_MAX } from '../../../../core/cloudevents/event.js';

test('parseRewindTarget: the forms --to takes', () => {
  const cases: [string, string][] = [
    ['earliest', 'earliest'],
    ['latest', 'latest'],
    ['2026-12-04T10:00:00Z', '2026-12-04T10:00:00.000Z'],
    ['2026-12-04T11:00:00.5+01:00', '2026-12-04T10:00:00.500Z'],
    ['0:10', '0:10'],
    ['0:10, 3:7', '0:10,3:7'],
  ];
  for (const [input, expected] of cases) assert.equal(describeTarget(parseRewindTarget(input)), expected, input);
});

test('parseRewindTarget: anything else is one INVALID_REQUEST line', () => {
  for (const input of ['', 'yesterday', '2026-12-04', '2026-12-04T10:00:00', '0:', 'a:1', '0:1,0:2', '5', '-1:3']) {
    assert.throws(() => parseRewindTarget(input), (error: { code?: string; message: string }) => error.code === 'INVALID_REQUEST' && !error.message.includes('\n'), input);
  }
});

test('planMoves: current, target, re-delivered and skipped per partition, clamped to what is retained', () => {
  const ranges = [{ partition: 0, start: '0', end: '10' }, { partition: 1, start: '5', end: '8' }, { partition: 2, start: '0', end: '4' }];
  const committed = new Map<number, string | undefined>([[0, '10'], [1, '6'], [2, undefined]]);
  const moves = planMoves('t', ranges, committed, new Map([[0, 3n], [1, 100n]]));
  assert.deepEqual(moves.map((m) => [m.partition, m.current, m.target, m.redelivered, m.skipped]), [
    [0, '10', '3', 7, 0], // back: 7 delivered again
    [1, '6', '8', 0, 2], // past the end: waits at the end, skipping 2
    [2, '4', '4', 0, 0], // no target, no commit: stays at the end
  ]);
  assert.deepEqual(totals(moves), { redelivered: 7, skipped: 2 });
  // A committed offset removed by retention counts from the earliest retained record.
  assert.deepEqual(planMoves('t', [{ partition: 0, start: '5', end: '9' }], new Map([[0, '2']]), new Map([[0, 0n]]))[0], { topic: 't', partition: 0, current: '5', target: '5', redelivered: 0, skipped: 0 });
});

test('the replay extension has a valid attribute name', () => {
  assert.match(REPLAY_EXTENSION, ATTRIBUTE_NAME);
  assert.ok(REPLAY_EXTENSION.length <= ATTRIBUTE_NAME_ADVISED_MAX);
});

test('tail render: pretty shows type, source, id, extensions and JSON data, truncated; json and yaml are the event', () => {
  const item = { specversion: '1.0', id: 'a1', source: '/s', type: 't.x', time: '2026-12-04T10:00:00Z', amount: 250, data: { order: 42 }, partition: 1, offset: '7', appended: '2026-12-04T10:00:00.100Z' };
  assert.equal(render(item, 'cloudevent', 'pretty', 1024), '2026-12-04T10:00:00Z  t.x  source=/s  id=a1  [1/7]\n  amount=250\n  data: {\n          "order": 42\n        }\n');
  assert.match(render({ ...item, data: 'x'.repeat(50) }, 'cloudevent', 'pretty', 10), /data: x{10}… \(40 more characters\)/);
  assert.match(render({ ...item, data: undefined, data_base64: Buffer.from([0, 1, 2]).toString('base64') }, 'cloudevent', 'pretty', 100), /data: \(base64\) AAEC/);
  assert.deepEqual(JSON.parse(render(item, 'cloudevent', 'json', 0)), item);
  assert.match(render(item, 'cloudevent', 'yaml', 0), /^---\nspecversion: "1.0"\nid: a1\n/);
  assert.match(render({ partition: 0, offset: '1', appended: 'now', problem: 'no ce_ headers' }, 'undecodable', 'pretty', 0), /not a CloudEvent: no ce_ headers/);
});

test('renderLivePage: names are escaped; an empty contract says so', async () => {
  const { renderLivePage } = await import('../../../../dispatcher/tail/page.js');
  const html = renderLivePage([{ namespace: 'ns', name: '<b>x', triggers: ['"t'] }], 'nonce1');
  assert.ok(!html.includes('<b>x'));
  assert.ok(html.includes('&lt;b&gt;x'));
  assert.ok(html.includes('value="&quot;t"'));
  assert.match(renderLivePage([], 'n'), /No broker is in the contract yet/);
});
