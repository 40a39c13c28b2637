/**
 * Issue 14, item 3, measured: 1,000 clients each upload a 1 MiB event slowly and never send its
 * last byte (half declare Content-Length, half are chunked). With the default bounds the ingress,
 * a process of its own on the in-memory log, stays within +150 MB of resident memory, and an
 * ordinary POST from another client is still answered 202 within 100 ms (the median of the POSTs
 * made while all 1,000 uploads are open; those made while they connect are reported too).
 *
 *   test process ──1,000 raw sockets, 64 KiB every 250 ms──▶ ingress (child) ◀── VmRSS sampled
 *               └──undici: a small POST every 400 ms, timed──▶
 *
 * What the bounds do here: a body that does not fit in maxBufferedBytes (large bodies share
 * 3/4 of 64 MiB) is refused with 503 before it is read and its connection closed; the rest are
 * held (and would be cut at requestTimeoutMs); the quarter kept for small bodies serves the
 * ordinary POSTs. The figures are printed as diagnostics.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { chunk, connectRaw, eventHead, type RawConnection } from '../helpers/raw-http.js';
import { startIngressProcess } from '../helpers/ingress-process.js';

const MiB = 1024 * 1024;
const CLIENTS = 1000;
const PIECE = 64 * 1024;
const HOLD_MS = 12_000;

test('1,000 slow 1 MiB uploads: the ingress stays under +150 MB RSS and a normal POST answers 202 fast', { timeout: 120_000 }, async (t) => {
  const ingress = await startIngressProcess(t);
  const client = new Agent({ connections: 2 });
  t.after(() => client.close());
  const post = async (id: string): Promise<{ status: number; ms: number }> => {
    const started = performance.now();
    const response = await request(`${ingress.url}${ingress.brokerPath}`, {
      method: 'POST',
      dispatcher: client,
      headers: { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/memory-test', 'ce-type': 'test.normal', 'content-type': 'application/json' },
      body: JSON.stringify({ id }),
    });
    await response.body.dump();
    return { status: response.statusCode, ms: performance.now() - started };
  };

  // Warm up (JIT, pools), then the baseline.
  for (let i = 0; i < 30; i++) assert.equal((await post(`warm-${i}`)).status, 202);
  await sleep(500);
  const baseline = ingress.rss();
  let peak = baseline;
  const sampler = setInterval(() => {
    if (ingress.alive()) peak = Math.max(peak, ingress.rss());
  }, 200);
  t.after(() => clearInterval(sampler));

  // The slow uploads: each sends its head, then 64 KiB every 250 ms up to 1 MiB - 1 byte, and holds.
  const piece = Buffer.alloc(PIECE, 0x61);
  const uploads: { connection: RawConnection; chunked: boolean }[] = [];
  const outcomes = { refused503: 0, closedOtherwise: 0, held: 0 };
  const trickle = async (connection: RawConnection, chunked: boolean): Promise<void> => {
    let sent = 0;
    while (sent < MiB - 1 && !connection.socket.destroyed && connection.received() === '') {
      const size = Math.min(PIECE, MiB - 1 - sent);
      const body = size === PIECE ? piece : piece.subarray(0, size);
      if (!(await connection.write(chunked ? chunk(body) : body))) break;
      sent += size;
      await sleep(250);
    }
  };
  // Meanwhile, ordinary producers: a POST every 400 ms from the start of the load to its end.
  const latencies: number[] = [];
  const statuses: number[] = [];
  /** Latencies once all 1,000 uploads are open (while they connect, the test process itself is busy too). */
  const steadyLatencies: number[] = [];
  let allConnected = false;
  let loadOver = false;
  const producer = (async () => {
    while (!loadOver) {
      await sleep(400);
      const reply = await post(`normal-${latencies.length}`);
      statuses.push(reply.status);
      latencies.push(reply.ms);
      if (allConnected) steadyLatencies.push(reply.ms);
    }
  })();

  const loadStarted = Date.now();
  const connect = async (i: number): Promise<void> => {
    const chunked = i % 2 === 1;
    const connection = await connectRaw(ingress.url).catch(() => undefined);
    if (connection === undefined) {
      outcomes.closedOtherwise++;
      return;
    }
    uploads.push({ connection, chunked });
    void connection.write(eventHead(ingress.brokerPath, chunked ? undefined : MiB, `slow-${i}`)).then(() => trickle(connection, chunked));
  };
  t.after(() => {
    for (const upload of uploads) upload.connection.close();
  });
  for (let i = 0; i < CLIENTS; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, CLIENTS - i) }, (_, j) => connect(i + j)));
    await sleep(20);
  }
  const connectedMs = Date.now() - loadStarted;
  allConnected = true;
  // Held for HOLD_MS, and at least long enough for every upload to have sent its 1 MiB - 1.
  await sleep(Math.max(HOLD_MS - connectedMs, 6000));
  loadOver = true;
  await producer;
  const rssUnderLoad = ingress.rss();
  for (const { connection } of uploads) {
    const text = connection.received();
    if (/^HTTP\/1\.1 503/.test(text)) outcomes.refused503++;
    else if (connection.socket.destroyed) outcomes.closedOtherwise++;
    else outcomes.held++;
  }
  clearInterval(sampler);
  for (const upload of uploads) upload.connection.close();
  await sleep(1000);
  const after = ingress.rss();

  const medianOf = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
  const median = medianOf(steadyLatencies);
  const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);
  t.diagnostic(`ingress RSS: baseline ${mb(baseline)} MB, peak ${mb(peak)} MB (+${mb(peak - baseline)} MB), under load ${mb(rssUnderLoad)} MB, after ${mb(after)} MB`);
  t.diagnostic(`slow uploads: ${CLIENTS} connected in ${connectedMs} ms; ${outcomes.held} held, ${outcomes.refused503} refused with 503, ${outcomes.closedOtherwise} closed without an answer read (a reset racing the 503, or no connection)`);
  t.diagnostic(`normal POSTs meanwhile: ${statuses.length}, statuses ${[...new Set(statuses)].join(',')}; latency median ${median.toFixed(1)} ms with all uploads open (${steadyLatencies.length} POSTs), ${medianOf(latencies).toFixed(1)} ms over the whole load, max ${Math.max(...latencies).toFixed(1)} ms`);

  assert.ok(ingress.alive(), 'the ingress is still up');
  assert.ok(peak - baseline < 150 * 1e6, `RSS grew by ${mb(peak - baseline)} MB`);
  assert.ok(statuses.length >= 10 && statuses.every((s) => s === 202), `every normal POST is 202: ${statuses.join(',')}`);
  assert.ok(steadyLatencies.length >= 10, `${steadyLatencies.length} POSTs with all uploads open`);
  assert.ok(median < 100, `median latency ${median.toFixed(1)} ms`);
  assert.ok(outcomes.held > 0 && outcomes.refused503 > 0, 'some uploads are held and the rest refused');
  assert.ok(outcomes.held <= 60, `no more uploads held than fit in the budget (${outcomes.held})`);
});
