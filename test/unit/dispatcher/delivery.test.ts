import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { HttpSender, isNamed, type AttemptResult } from '../../../dispatcher/delivery.js';

/**
 * How much of a response the sender keeps: a failed response is only ever used for
 * `knativeerrordata` (its first 1024 bytes), so that is all that is kept of it; the rest is read
 * and thrown away. A success may carry a reply, kept whole up to `maxResponseBytes`.
 */

interface Server {
  readonly url: string;
  /** Distinct connections seen so far. */
  readonly sockets: Set<Socket>;
  answer(status: number, bodyBytes: number): void;
}

async function startServer(t: TestContext): Promise<Server> {
  let reply: (res: ServerResponse) => void = (res) => res.end();
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    sockets.add(req.socket);
    req.resume();
    req.on('end', () => reply(res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    sockets,
    answer: (status, bodyBytes) => {
      reply = (res) => {
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(Buffer.alloc(bodyBytes, 0x61));
      };
    },
  };
}

function sender(t: TestContext, maxResponseBytes: number): HttpSender {
  const s = new HttpSender({ connections: 1, maxResponseBytes });
  t.after(() => s.destroy());
  return s;
}

const keep = { success: 64 * 1024, failure: 1024 };

describe('delivery: response bytes kept', () => {
  test('a failed response keeps its first 1024 bytes (a copy, not a view of a larger chunk); the connection is reused', async (t) => {
    const server = await startServer(t);
    const http = sender(t, 64 * 1024);
    server.answer(500, 40 * 1024);
    const result = await http.send({ url: server.url, headers: {}, body: Buffer.from('x'), keepResponseBytes: keep }, 5000);
    assert.equal(result.kind, 'response');
    if (result.kind !== 'response') return;
    assert.equal(result.status, 500);
    assert.equal(result.body.length, 1024);
    assert.equal(result.truncated, true);
    // At most a slab of Buffer's pool: a subarray of a 16-64 KiB socket chunk would keep all of it.
    assert.ok(result.body.buffer.byteLength <= 8192, `kept body holds ${result.body.buffer.byteLength} bytes`);

    // The rest was read (and thrown away), not left on the socket: the next request reuses it.
    server.answer(200, 0);
    const again = await http.send({ url: server.url, headers: {}, body: Buffer.from('x'), keepResponseBytes: keep }, 5000);
    assert.equal(again.kind, 'response');
    assert.equal(server.sockets.size, 1);
  });

  test('a failed response larger than maxResponseBytes keeps 1024 bytes and closes the connection', async (t) => {
    const server = await startServer(t);
    const http = sender(t, 8 * 1024);
    server.answer(503, 256 * 1024);
    const result = await http.send({ url: server.url, headers: {}, body: undefined, keepResponseBytes: keep }, 5000);
    assert.equal(result.kind === 'response' && result.body.length, 1024);
  });

  test('a success keeps the whole reply up to maxResponseBytes', async (t) => {
    const server = await startServer(t);
    const http = sender(t, 64 * 1024);
    server.answer(200, 40 * 1024);
    const result = await http.send({ url: server.url, headers: {}, body: undefined, keepResponseBytes: keep }, 5000);
    assert.equal(result.kind === 'response' && result.body.length, 40 * 1024);
    assert.equal(result.kind === 'response' && result.truncated, false);
  });

  test('a success whose body is not used keeps nothing', async (t) => {
    const server = await startServer(t);
    const http = sender(t, 64 * 1024);
    server.answer(202, 4096);
    const result = await http.send({ url: server.url, headers: {}, body: undefined, keepResponseBytes: { success: 0, failure: 1024 } }, 5000);
    assert.equal(result.kind === 'response' && result.body.length, 0);
  });

  test('without keepResponseBytes, a failure is kept up to maxResponseBytes as before', async (t) => {
    const server = await startServer(t);
    const http = sender(t, 64 * 1024);
    server.answer(500, 4096);
    const result = await http.send({ url: server.url, headers: {}, body: undefined }, 5000);
    assert.equal(result.kind === 'response' && result.body.length, 4096);
  });
});

describe('delivery: outcomes other than a whole response', () => {
  /** A server that reads requests and never answers them. */
  async function silentServer(t: TestContext): Promise<string> {
    const server = createServer((req) => req.resume());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  }

  test('an attempt not answered within its timeout is a timeout, whether sent or still queued for a connection', async (t) => {
    const url = await silentServer(t);
    const http = sender(t, 1024); // one connection: the second attempt waits behind the first
    const started = performance.now();
    const results = await Promise.all([
      http.send({ url, headers: {}, body: Buffer.from('a') }, 150),
      http.send({ url, headers: {}, body: Buffer.from('b') }, 150),
    ]);
    assert.deepEqual(results, [{ kind: 'timeout' }, { kind: 'timeout' }]);
    assert.ok(performance.now() - started < 2000, 'both ended at their own timeout');
  });

  test("the caller's signal ends every attempt waiting on it; an attempt given an aborted signal is not sent", async (t) => {
    const url = await silentServer(t);
    const http = new HttpSender({ connections: 4, maxResponseBytes: 1024 });
    t.after(() => http.destroy());
    const controller = new AbortController();
    const attempts = [1, 2, 3].map(() => http.send({ url, headers: {}, body: Buffer.from('x') }, 30_000, controller.signal));
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();
    assert.deepEqual(await Promise.all(attempts), [{ kind: 'aborted' }, { kind: 'aborted' }, { kind: 'aborted' }]);
    assert.deepEqual(await http.send({ url, headers: {}, body: undefined }, 30_000, controller.signal), { kind: 'aborted' });
  });

  test('a destination that refuses the connection is a network failure naming the error', async (t) => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as AddressInfo;
        probe.close(() => resolve(free));
      });
    });
    const result = await sender(t, 1024).send({ url: `http://127.0.0.1:${port}/`, headers: {}, body: undefined }, 5000);
    assert.equal(result.kind, 'network');
    assert.match(result.kind === 'network' ? result.message : '', /ECONNREFUSED/);
  });

  test('response header names are lower-case own keys (even __proto__), repeated ones joined with ", "', async (t) => {
    const result = await sendToOk(t, [['Retry-After', '3'], ['X-Twice', 'a'], ['x-twice', 'b'], ['__proto__', 'p']]);
    assert.equal(result.kind, 'response');
    if (result.kind !== 'response') return;
    assert.equal(result.headers['retry-after'], '3');
    assert.equal(result.headers['x-twice'], 'a, b');
    assert.ok(Object.hasOwn(result.headers, '__proto__'));
    assert.equal(result.headers['__proto__'], 'p');
  });
});

describe('delivery: a success answers has(name) from the header bytes', () => {
  const cases = [
    { raw: 'ce-specversion', name: 'ce-specversion', is: true },
    { raw: 'CE-SpecVersion', name: 'ce-specversion', is: true },
    { raw: 'Content-Type', name: 'content-type', is: true },
    { raw: 'content-typ', name: 'content-type', is: false },
    { raw: 'content-typex', name: 'content-type', is: false },
    { raw: 'content_type', name: 'content-type', is: false },
    // 0x0d | 0x20 is '-': only letters fold.
    { raw: 'content\rtype', name: 'content-type', is: false },
    // latin1 'À' lowers to 'à', never to ASCII.
    { raw: 'ce-specversio\u00c0', name: 'ce-specversion', is: false },
  ];
  for (const c of cases) {
    test(`isNamed(${JSON.stringify(c.raw)}, ${c.name}) is ${c.is}`, () => {
      assert.equal(isNamed(Buffer.from(c.raw, 'latin1'), c.name), c.is);
    });
  }

  test('has() agrees with headers for names sent in any case, before and after headers are read', async (t) => {
    const result = await sendToOk(t, [['CE-SpecVersion', '1.0'], ['X-Other', 'x']]);
    assert.equal(result.kind, 'response');
    if (result.kind !== 'response') return;
    assert.ok(result.has !== undefined, 'a success answers has()');
    const asked = (): boolean[] => ['ce-specversion', 'x-other', 'content-type', 'date'].map((name) => result.has!(name));
    const before = asked();
    assert.deepEqual(before, [true, true, false, true]);
    assert.equal(result.headers['ce-specversion'], '1.0');
    assert.deepEqual(asked(), before);
  });
});

/** Sends one request to a server of its own that answers 200 with these raw headers, as sent. */
async function sendToOk(t: TestContext, headers: [string, string][]): Promise<AttemptResult> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, headers);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return sender(t, 1024).send({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, headers: {}, body: undefined }, 5000);
}
