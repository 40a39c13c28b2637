/**
 * The ingress's bounds against clients that hold on (issue 14, item 3), each on a live ingress
 * over the in-memory log with small limits so that a test takes a second or two:
 *
 *   bytes held across requests   maxBufferedBytes   503 + Retry-After, counted before reading
 *   the whole request            requestTimeoutMs   408, connection closed
 *   the headers                  headersTimeoutMs   408, connection closed
 *   an idle keep-alive           keepAliveTimeoutMs connection closed
 *   connections at once          maxConnections     new connections closed at once
 *
 * (test/integration/ingress-memory.test.ts measures the defaults against 1,000 slow uploads.)
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import { chunk, connectRaw, eventHead, type RawConnection } from '../helpers/raw-http.js';
import { waitUntil } from '../helpers/wait.js';
import { ceHeaders, readAll, startTestIngress, type TestIngress } from '../unit/broker-ingress/fixtures.js';
import type { IngressConfig } from '../../broker-ingress/config.js';

const KiB = 1024;

const connections = new WeakMap<TestContext, RawConnection[]>();

/** An ingress whose raw connections are closed first at the end (closing waits for requests in flight). */
async function ingressWith(t: TestContext, config: Partial<IngressConfig>): Promise<TestIngress> {
  const opened: RawConnection[] = [];
  connections.set(t, opened);
  t.after(() => {
    for (const connection of opened) connection.close();
  });
  const log = new MemoryEventLog();
  t.after(() => log.close());
  return startTestIngress(t, log, { config });
}

async function open(t: TestContext, url: string): Promise<RawConnection> {
  const connection = await connectRaw(url);
  connections.get(t)!.push(connection);
  return connection;
}

/** A binary event whose body is `size` bytes declared up front and only partly sent (it is held). */
async function holdUpload(t: TestContext, ingress: TestIngress, size: number, sent = 1 * KiB): Promise<RawConnection> {
  const connection = await open(t, ingress.ingress.url);
  await connection.write(eventHead(ingress.path, size));
  await connection.write(Buffer.alloc(sent, 0x61));
  return connection;
}

function errorOf(raw: string): { code?: string; message?: string } {
  return JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { code?: string; message?: string };
}

// 400 KiB budget: large bodies (over 64 KiB) may hold 300 KiB together, small ones the rest.
const budgeted: Partial<IngressConfig> = { maxBufferedBytes: 400 * KiB, bodyLimitBytes: 1024 * KiB, retryAfterSeconds: 2 };

describe('the byte budget (maxBufferedBytes)', { timeout: 30_000 }, () => {
  test('a declared body that does not fit is refused with 503 before it is sent; small events still get in', async (t) => {
    const ingress = await ingressWith(t, budgeted);
    const holders = [await holdUpload(t, ingress, 150 * KiB), await holdUpload(t, ingress, 150 * KiB)];
    await sleep(100);

    // Nothing of this body is sent: the answer comes from the declared length alone.
    const refused = await open(t, ingress.ingress.url);
    await refused.write(eventHead(ingress.path, 150 * KiB));
    assert.equal(await refused.status(), 503);
    const head = refused.received().toLowerCase();
    assert.match(head, /\r\nretry-after: 2\r\n/);
    assert.match(head, /\r\nconnection: close\r\n/);
    assert.equal(errorOf(refused.received()).code, 'OVERLOADED');
    await refused.closed;

    // The share kept for small bodies is free.
    assert.equal((await ingress.post(ingress.path, ceHeaders(), '{"small":true}')).status, 202);

    // The held uploads finish and are accepted; their bytes are then free again.
    for (const holder of holders) {
      await holder.write(Buffer.alloc(149 * KiB, 0x62));
      assert.equal(await holder.status(), 202);
    }
    const again = await open(t, ingress.ingress.url);
    await again.write(eventHead(ingress.path, 150 * KiB));
    await again.write(Buffer.alloc(150 * KiB, 0x63));
    assert.equal(await again.status(), 202, 'bytes are given back when a request ends');
    assert.equal((await readAll(ingress.log, ingress.topic)).length, 4);
  });

  test('a chunked body is counted as it streams in, and refused once it does not fit', async (t) => {
    const ingress = await ingressWith(t, budgeted);
    await holdUpload(t, ingress, 150 * KiB);
    await sleep(100);
    const chunked = await open(t, ingress.ingress.url);
    await chunked.write(eventHead(ingress.path, undefined));
    let sent = 0;
    // 150 KiB fit beside the holder; the 4th chunk of 50 KiB does not.
    while (sent < 400 * KiB && !chunked.received().startsWith('HTTP/1.1')) {
      if (!(await chunked.write(chunk(Buffer.alloc(50 * KiB, 0x64))))) break;
      sent += 50 * KiB;
      await sleep(50);
    }
    assert.equal(await chunked.status(), 503);
    assert.equal(errorOf(chunked.received()).code, 'OVERLOADED');
    assert.ok(sent > 150 * KiB && sent <= 250 * KiB, `refused after ${sent / KiB} KiB, once past what fits`);
  });

  test('a body larger than the budget can ever hold is 413, not a 503 to retry forever', async (t) => {
    const ingress = await ingressWith(t, budgeted);
    const declared = await open(t, ingress.ingress.url);
    await declared.write(eventHead(ingress.path, 350 * KiB));
    assert.equal(await declared.status(), 413);
    assert.equal(errorOf(declared.received()).code, 'BODY_TOO_LARGE');

    const chunked = await open(t, ingress.ingress.url);
    await chunked.write(eventHead(ingress.path, undefined));
    for (let i = 0; i < 8 && !chunked.received().startsWith('HTTP/1.1'); i++) {
      if (!(await chunked.write(chunk(Buffer.alloc(50 * KiB, 0x65))))) break;
      await sleep(20);
    }
    assert.equal(await chunked.status(), 413);
    assert.match(errorOf(chunked.received()).message ?? '', /larger than the server can ever hold at once/);
  });
});

describe('timeouts and the connection cap', { timeout: 30_000 }, () => {
  test('headers that never finish: 408 and closed after headersTimeoutMs', async (t) => {
    const ingress = await ingressWith(t, { headersTimeoutMs: 400, requestTimeoutMs: 5000 });
    const slow = await open(t, ingress.ingress.url);
    await slow.write(`POST ${ingress.path} HTTP/1.1\r\nhost: 127.0.0.1\r\nce-id: 1\r\n`);
    const idle = await open(t, ingress.ingress.url); // sends nothing at all
    const [closed, idleClosed] = await Promise.all([slow.closed, idle.closed]);
    assert.match(closed.data, /^HTTP\/1\.1 408/);
    assert.ok(closed.afterMs >= 350 && closed.afterMs < 3000, `closed after ${closed.afterMs} ms`);
    assert.ok(idleClosed.afterMs < 3000, `a connection that sends nothing is closed too (${idleClosed.afterMs} ms)`);
  });

  test('a body that trickles in: 408 and closed after requestTimeoutMs, its bytes given back', async (t) => {
    const ingress = await ingressWith(t, { requestTimeoutMs: 800, headersTimeoutMs: 400, maxBufferedBytes: 400 * KiB, bodyLimitBytes: 300 * KiB });
    const slow = await open(t, ingress.ingress.url);
    await slow.write(eventHead(ingress.path, 200 * KiB));
    const trickle = setInterval(() => void slow.write(Buffer.alloc(100, 0x66)), 100);
    t.after(() => clearInterval(trickle));
    const closed = await slow.closed;
    clearInterval(trickle);
    assert.match(closed.data, /^HTTP\/1\.1 408/);
    assert.ok(closed.afterMs >= 700 && closed.afterMs < 4000, `closed after ${closed.afterMs} ms`);
    // Its 200 KiB are free again: another body as large fits.
    const next = await open(t, ingress.ingress.url);
    await next.write(eventHead(ingress.path, 200 * KiB));
    await next.write(Buffer.alloc(200 * KiB, 0x67));
    assert.equal(await next.status(), 202);
  });

  test('an idle keep-alive connection is closed after keepAliveTimeoutMs', async (t) => {
    const ingress = await ingressWith(t, { keepAliveTimeoutMs: 300 });
    const connection = await open(t, ingress.ingress.url);
    await connection.write(`${eventHead(ingress.path, 2)}{}`);
    assert.equal(await connection.status(), 202);
    const closed = await connection.closed;
    assert.ok(closed.afterMs < 3000, `closed ${closed.afterMs} ms after connecting`);
  });

  test('past maxConnections new connections are closed at once; room again once one closes', async (t) => {
    const ingress = await ingressWith(t, { maxConnections: 3 });
    const held = [await open(t, ingress.ingress.url), await open(t, ingress.ingress.url), await open(t, ingress.ingress.url)];
    await sleep(50);
    const extra = await open(t, ingress.ingress.url);
    await extra.write(`${eventHead(ingress.path, 2)}{}`);
    const closed = await extra.closed;
    assert.equal(closed.data, '', 'closed without an answer');
    assert.ok(closed.afterMs < 2000);
    held[0]!.close();
    await waitUntil(async () => (await ingress.post(ingress.path, ceHeaders(), '{}')).status === 202, { timeoutMs: 20_000, message: 'a POST once a connection is free' });
  });
});
