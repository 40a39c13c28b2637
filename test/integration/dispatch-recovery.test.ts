import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseContract } from '../../core/contract/parse.js';
import { InProcessContractSource } from '../../core/contract/source.js';
import { KafkaEventLog } from '../../core/event-log/kafka/adapter.js';
import { silentLogger } from '../../core/logger.js';
import { dispatcherConfigSchema } from '../../dispatcher/config.js';
import { startDispatcher } from '../../dispatcher/main.js';
import { answer, eventLogKinds, makeEvent, startScenario, startSubscriber, uniqueEgress, type LogKind, type Scenario } from '../helpers/servers.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * Commits after a crash: only the contiguous prefix of done events is committed, so
 * after a crash every event not committed is delivered again — duplicates allowed, loss never.
 *
 *   events 0..29 ──▶ dispatcher ──▶ subscriber: answers at once, except event 5, which hangs
 *   wait until 0..4 and 6..29 are delivered and 0..4 committed
 *   crash the dispatcher  (Kafka: SIGKILL of a child process; memory: close with a 0 ms deadline,
 *                          the nearest a log that lives in this process can come to a crash)
 *   restart ──▶ 5..29 are delivered again (the commit stopped below 5); 0..4 are not
 *
 * This file is also the crashing child: run with DISPATCH_CRASH_CHILD set, it starts a
 * dispatcher from the environment and waits to be killed.
 */
if (process.env['DISPATCH_CRASH_CHILD'] !== undefined) {
  await runChild();
} else {
  for (const kind of eventLogKinds) describeRecovery(kind);
}

const EVENTS = 30;
const HANGING = 5;

function describeRecovery(kind: LogKind): void {
  const wait = { timeoutMs: kind.timeoutMs };

  describe(`dispatch recovery on ${kind.name}`, { timeout: kind.timeoutMs * 4 }, () => {
    test('after a crash every event arrives at least once, and the commit stopped at the first event not done', async (t) => {
      const sub = await startSubscriber(t);
      const hung: (() => void)[] = [];
      t.after(() => hung.forEach((release) => release()));
      sub.respond((req, res) => {
        if (req.headers['ce-id'] === `ev-${HANGING}` && hung.length === 0) hung.push(() => answer(res, 200));
        else answer(res, 200);
      });
      const egress = uniqueEgress('crash', { destination: sub.url });
      const s = await startScenario(t, kind, { egresses: [egress], startDispatcher: false, config: { commitIntervalMs: 100, shutdownDeadlineMs: 0 } });
      const ids = Array.from({ length: EVENTS }, (_, i) => `ev-${i}`);

      const crash = kind.name === 'kafka' ? await startChild(t, s) : await startInProcess(s);
      await s.send(ids.map((id) => makeEvent({ id })));
      await waitUntil(() => new Set(sub.ids()).size === EVENTS, { ...wait, message: 'every event handed to the subscriber' });
      // Whatever can be committed is: the done prefix 0..HANGING-1. On a busy machine a commit can
      // take longer than a few commit intervals, so wait for it rather than for a fixed time.
      const committed = async (): Promise<bigint> => BigInt((await s.log.groupLag!(egress.consumerGroup, [s.topic]))[0]?.committed ?? -1);
      await waitUntil(async () => (await committed()) >= BigInt(HANGING), { ...wait, message: `the commit at ${HANGING}` });
      await sleep(300); // a few commit intervals more: nothing past the hanging event is committed
      assert.equal(await committed(), BigInt(HANGING), 'the commit stopped at the first event not done');
      await crash();

      const firstRun = sub.requests.length;
      await s.start();
      await waitUntil(() => sub.requests.length >= firstRun + (EVENTS - HANGING), { ...wait, message: 'redelivery after the crash' });
      await waitUntil(() => s.dispatcher.stats().totals.delivered >= EVENTS - HANGING, { ...wait, message: 'redelivered events done' });
      const again = sub.ids().slice(firstRun);
      assert.deepEqual(new Set(sub.ids()), new Set(ids), 'every event arrived at least once');
      for (let i = HANGING; i < EVENTS; i++) assert.ok(again.includes(`ev-${i}`), `ev-${i} delivered again: it was not committed`);
      for (let i = 0; i < HANGING; i++) assert.ok(!again.includes(`ev-${i}`), `ev-${i} was committed and not delivered again`);
    });
  });
}

/** The memory log's "crash": the dispatcher is closed with no time for deliveries in progress. */
async function startInProcess(s: Scenario): Promise<() => Promise<void>> {
  const d = await s.start();
  return () => d.close();
}

/** A dispatcher in a child process, killed with SIGKILL: no close, no final commit. */
async function startChild(t: { after(fn: () => unknown): void }, s: Scenario): Promise<() => Promise<void>> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: {
      ...process.env,
      DISPATCH_CRASH_CHILD: '1',
      CHILD_CONTRACT: JSON.stringify(s.contracts.current()),
      CHILD_CONFIG: JSON.stringify(s.config),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await waitUntil(() => out.includes('ready') || child.exitCode !== null, { timeoutMs: 60_000, message: 'the child dispatcher' });
  assert.ok(out.includes('ready'), `child failed: ${out}`);
  return async () => {
    child.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  };
}

async function runChild(): Promise<void> {
  const brokers = (process.env['KAFKA_BOOTSTRAP_SERVERS'] ?? '').split(',');
  const log = new KafkaEventLog({ brokers, clientId: 'dispatch-crash-child', logger: silentLogger() });
  const contracts = new InProcessContractSource(parseContract(JSON.parse(process.env['CHILD_CONTRACT'] ?? '{}')));
  const config = dispatcherConfigSchema.parse(JSON.parse(process.env['CHILD_CONFIG'] ?? '{}'));
  await startDispatcher({ config, log, contracts, logger: silentLogger() });
  process.stdout.write('ready\n');
  setInterval(() => undefined, 60_000); // until killed
}

