import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { FileRewindHistory, PER_TRIGGER, TRIGGERS, withRecord } from '../../../../dispatcher/rewind/history.js';
import type { RewindRecord } from '../../../../dispatcher/rewind/service.js';

const record = (n: number, who = 'alice'): RewindRecord => ({
  mode: 'rewind', who, at: new Date(Date.UTC(2026, 11, 4, 10, 0, n)).toISOString(), to: 'earliest',
  moves: [{ topic: 't', partition: 0, current: String(n + 10), target: '0', redelivered: n + 10, skipped: 0 }], redelivered: n + 10, skipped: 0,
});

async function folder(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kb-rewinds-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('withRecord keeps the last PER_TRIGGER per trigger and the TRIGGERS rewound most recently', () => {
  let history = new Map<string, readonly RewindRecord[]>();
  for (let i = 0; i < PER_TRIGGER + 5; i++) history = withRecord(history, 'ns/a', record(i));
  assert.equal(history.get('ns/a')!.length, PER_TRIGGER);
  assert.equal(history.get('ns/a')![0]!.redelivered, 15, 'the oldest went');
  for (let i = 0; i < TRIGGERS; i++) history = withRecord(history, `ns/t${i}`, record(0));
  assert.equal(history.size, TRIGGERS);
  assert.equal(history.has('ns/a'), false, 'the trigger rewound longest ago went');
  history = withRecord(history, 'ns/t0', record(1));
  history = withRecord(history, 'ns/new', record(1));
  assert.equal(history.has('ns/t0'), true, 'rewinding again keeps a trigger');
  assert.equal(history.has('ns/t1'), false);
});

test('FileRewindHistory: nothing stored reads empty; records survive a new instance; two writers keep each other\'s', async (t) => {
  const file = path.join(await folder(t), 'state', 'rewinds.json');
  const first = new FileRewindHistory(file);
  assert.equal((await first.load()).size, 0);
  await first.add('ns/a', record(1));
  const second = new FileRewindHistory(file);
  await second.add('ns/b', record(2, 'bob'));
  await first.add('ns/a', record(3));
  const read = await new FileRewindHistory(file).load();
  assert.deepEqual(read.get('ns/a')!.map((r) => r.redelivered), [11, 13]);
  assert.deepEqual(read.get('ns/b')!.map((r) => r.who), ['bob']);
  assert.equal((await stat(file)).mode & 0o077, 0, 'readable by its owner only');
  assert.match(await readFile(file, 'utf8'), /^\{"version":1,/);
});

test('FileRewindHistory: a damaged file is one line naming it; records that are not records are dropped', async (t) => {
  const file = path.join(await folder(t), 'rewinds.json');
  for (const text of ['not json', '{"version":2,"triggers":[]}', '{"version":1,"triggers":[{"trigger":1}]}']) {
    await writeFile(file, text);
    await assert.rejects(new FileRewindHistory(file).load(), (error: Error) => error.message.includes(file) && !error.message.includes('\n'), text);
  }
  await writeFile(file, JSON.stringify({ version: 1, triggers: [{ trigger: 'ns/a', records: [record(1), { mode: 'explode' }] }] }));
  assert.equal((await new FileRewindHistory(file).load()).get('ns/a')!.length, 1);
});
