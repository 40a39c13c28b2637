/**
 * The ingress around its requests: health and readiness, a log that cannot take writes (503,
 * nothing acknowledged), contract changes while running, requests in flight across a change,
 * and a port already taken.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import { BrokerError } from '../../core/errors.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import type { AppendRecord, AppendResult } from '../../core/event-log/port.js';
import { silentLogger } from '../../core/logger.js';
import { InProcessContractSource } from '../../core/contract/source.js';
import { ingressConfigSchema } from '../../broker-ingress/config.js';
import { startIngress } from '../../broker-ingress/main.js';
import { makeContract } from '../helpers/builders.js';
import { waitUntil } from '../helpers/wait.js';
import { ceHeaders, logFactories, readAll, send, startTestIngress, uniqueBroker } from '../unit/broker-ingress/fixtures.js';

/** A memory log whose appends can be made to fail or to wait. */
class ControlledLog extends MemoryEventLog {
  failWith: Error | undefined;
  gate: Promise<void> | undefined;
  /** Appends waiting at the gate now. */
  held = 0;
  pingOk = true;

  override async append(topic: string, records: readonly AppendRecord[]): Promise<AppendResult[]> {
    if (this.gate !== undefined) {
      this.held++;
      await this.gate.finally(() => this.held--);
    }
    if (this.failWith !== undefined) throw this.failWith;
    return super.append(topic, records);
  }

  override async ping(): Promise<boolean> {
    return this.pingOk;
  }
}

describe('health and readiness', () => {
  test('/healthz answers at once; /readyz waits for a contract and a reachable log', async (t) => {
    const log = new ControlledLog();
    t.after(() => log.close());
    const { ingress, contracts, brokers } = await startTestIngress(t, log, { publish: false });
    assert.equal((await send(ingress.url, 'GET', '/healthz')).status, 200);
    const notYet = await send(ingress.url, 'GET', '/readyz');
    assert.equal(notYet.status, 503);
    assert.match(notYet.body, /no contract/);
    // Found by test/faults (ingress-kill): a restarted ingress answered 404 until its contract came.
    const early = await send(ingress.url, 'POST', '/any/broker');
    assert.equal(early.status, 503, 'before the first contract, no broker is "not found"');
    assert.match(early.body, /no contract yet/);
    contracts.publish(makeContract(brokers, 1));
    assert.equal((await send(ingress.url, 'GET', '/readyz')).status, 200);
    log.pingOk = false;
    const down = await send(ingress.url, 'GET', '/readyz');
    assert.equal(down.status, 503);
    assert.match(down.body, /not reachable/);
    assert.equal((await send(ingress.url, 'GET', '/healthz')).status, 200, 'alive even when not ready');
  });
});

describe('when the log cannot take the write', () => {
  const failures: [string, Error][] = [
    ['LOG_UNAVAILABLE', new BrokerError('LOG_UNAVAILABLE', 'Kafka did not confirm the write within 10000 ms')],
    ['TOPIC_NOT_FOUND', new BrokerError('TOPIC_NOT_FOUND', 'topic x does not exist')],
    ['an unexpected error', new Error('socket hang up')],
  ];
  for (const [name, error] of failures) {
    test(`${name}: 503 with Retry-After, nothing appended`, async (t) => {
      const log = new ControlledLog();
      t.after(() => log.close());
      const { post, path, topic } = await startTestIngress(t, log, { config: { retryAfterSeconds: 7 } });
      log.failWith = error;
      const reply = await post(path, ceHeaders());
      assert.equal(reply.status, 503);
      assert.equal(reply.headers['retry-after'], '7');
      assert.ok(['LOG_UNAVAILABLE', 'TOPIC_NOT_FOUND'].includes(reply.json()['code'] as string));
      assert.equal((await readAll(log, topic)).length, 0);
      log.failWith = undefined;
      assert.equal((await post(path, ceHeaders())).status, 202, 'served again once the log is back');
    });
  }

  test('past maxInFlightEvents, requests get 503 at once instead of queueing', async (t) => {
    const log = new ControlledLog();
    t.after(() => log.close());
    const { post, path, topic } = await startTestIngress(t, log, { config: { maxInFlightEvents: 2 } });
    let release!: () => void;
    log.gate = new Promise((resolve) => (release = resolve));
    const held = [post(path, ceHeaders()), post(path, ceHeaders())];
    await waitUntil(async () => (await post(path, ceHeaders())).status === 503, { message: 'a third request refused' });
    release();
    log.gate = undefined;
    assert.deepEqual((await Promise.all(held)).map((r) => r.status), [202, 202]);
    assert.equal((await readAll(log, topic)).length, 2);
  });
});

for (const kind of logFactories) {
  describe(`contract changes while running (${kind.name} log)`, () => {
    test('a broker added is served and a broker removed is 404, without a restart', async (t) => {
      const log = kind.create(t);
      const { post, path, publish, brokers } = await startTestIngress(t, log);
      const second = await uniqueBroker(log);
      const secondPath = second.ingress!.path;
      assert.equal((await post(secondPath, ceHeaders())).status, 404);
      publish([...brokers, second]);
      assert.equal((await post(secondPath, ceHeaders())).status, 202);
      assert.equal((await post(path, ceHeaders())).status, 202);
      publish([second]);
      assert.equal((await post(path, ceHeaders())).status, 404);
      assert.equal((await post(secondPath, ceHeaders())).status, 202);
      assert.equal((await readAll(log, second.topics[0]!)).length, 2);
    });
  });
}

describe('requests in flight across a contract change', () => {
  test('a request accepted before its broker is removed still completes with 202', async (t) => {
    const log = new ControlledLog();
    t.after(() => log.close());
    const { post, path, topic, publish } = await startTestIngress(t, log);
    let release!: () => void;
    log.gate = new Promise((resolve) => (release = resolve));
    const inFlight = post(path, ceHeaders());
    // Accepted means it reached the log; on a busy machine that can take longer than any fixed wait.
    await waitUntil(() => log.held === 1, { timeoutMs: 30_000, message: 'the request waiting at the log' });
    publish([]);
    assert.equal((await post(path, ceHeaders())).status, 404);
    release();
    log.gate = undefined;
    assert.equal((await inFlight).status, 202);
    assert.equal((await readAll(log, topic)).length, 1);
  });
});

describe('configuration', () => {
  test('bodyLimitBytes is the limit: at it 202, one byte over 413', async (t) => {
    const log = new MemoryEventLog();
    t.after(() => log.close());
    const { post, path, topic } = await startTestIngress(t, log, { config: { bodyLimitBytes: 100 } });
    const headers = ceHeaders({ 'content-type': 'application/octet-stream' });
    assert.equal((await post(path, headers, Buffer.alloc(100, 1))).status, 202);
    const over = await post(path, headers, Buffer.alloc(101, 1));
    assert.equal(over.status, 413);
    assert.match(over.json()['message'] as string, /100 bytes/);
    assert.equal((await readAll(log, topic)).length, 1);
  });
});

describe('start-up', () => {
  test('a port already taken is a clear error naming the port', async (t) => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const port = (blocker.address() as { port: number }).port;
    const log = new MemoryEventLog();
    t.after(() => log.close());
    await assert.rejects(
      startIngress({ config: ingressConfigSchema.parse({ host: '127.0.0.1', port }), log, contracts: new InProcessContractSource(), logger: silentLogger() }),
      (error: unknown) => error instanceof BrokerError && error.code === 'CONFIG_INVALID' && error.message.includes(String(port)) && /in use/.test(error.message),
    );
  });

  test('close() is idempotent and stops serving', async (t) => {
    const log = new MemoryEventLog();
    t.after(() => log.close());
    const { ingress } = await startTestIngress(t, log);
    await Promise.all([ingress.close(), ingress.close()]);
    await assert.rejects(send(ingress.url, 'GET', '/healthz'));
  });
});
