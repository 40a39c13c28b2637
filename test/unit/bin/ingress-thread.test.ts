import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startIngressThread } from '../../../bin/ingress-thread-start.js';
import { WorkerStartError } from '../../../bin/ingress-workers.js';
import { loadSettings, START_SETTINGS } from '../../../bin/settings.js';
import { silentLogger } from '../../../core/logger.js';

test('an ingress thread that dies while starting rejects with why, and is gone', async () => {
  const started: number[] = [];
  const exited: number[] = [];
  const reports = { started: (pid: number) => started.push(pid), applied: () => undefined, exited: (pid: number) => exited.push(pid) };
  const data = {
    config: loadSettings(START_SETTINGS.ingress, {}, { host: '127.0.0.1', port: 0 }),
    kafka: { brokers: ['127.0.0.1:1'], from: 'test' },
    authRoot: undefined,
    traceSettings: undefined,
    // The thread makes its logger first: a level pino does not know throws there, uncaught.
    log: { level: 'loud' as never, format: 'json' as const },
  };
  await assert.rejects(startIngressThread(data, silentLogger(), reports), (error: unknown) => {
    assert.ok(error instanceof WorkerStartError);
    assert.match(error.message, /^the ingress thread failed: .*loud/);
    return true;
  });
  assert.deepEqual(started, []);
  assert.deepEqual(exited, [process.pid]);
});
