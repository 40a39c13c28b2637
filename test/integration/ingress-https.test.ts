/**
 * HTTPS at the ingress with key material made for the test by openssl: served alongside plain
 * HTTP or alone, a certificate rotated on disk while the ingress runs (new connections get the new
 * one, no restart), a half-written rotation that keeps the old one, start-up errors, and the same
 * timeouts as plain HTTP against clients that hold a connection open.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { Agent, request } from 'undici';
import { connect } from 'node:net';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import { generateKafkaPki, type KafkaPki } from '../../scripts/kafka/pki.js';
import { connectRaw } from '../helpers/raw-http.js';
import { waitUntil } from '../helpers/wait.js';
import { ceHeaders, readAll, startTestIngress } from '../unit/broker-ingress/fixtures.js';

async function tempDir(t: Pick<TestContext, 'after'>, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Two unrelated CAs, each with a server certificate for 127.0.0.1. */
async function twoPkis(t: Pick<TestContext, 'after'>): Promise<[KafkaPki, KafkaPki]> {
  const [a, b] = await Promise.all([tempDir(t, 'ingress-pki-a-'), tempDir(t, 'ingress-pki-b-')]);
  return Promise.all([generateKafkaPki(a), generateKafkaPki(b)]);
}

/** Serving files the test can replace, starting as a copy of `pki`'s server pair. */
async function servingFiles(t: Pick<TestContext, 'after'>, pki: KafkaPki): Promise<{ certFile: string; keyFile: string }> {
  const dir = await tempDir(t, 'ingress-tls-');
  const files = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
  await copyFile(pki.server.certFile, files.certFile);
  await copyFile(pki.server.keyFile, files.keyFile);
  return files;
}

/** POSTs an event over a fresh connection that trusts only `ca`; the status, or the TLS error's code. */
async function postTrusting(url: string, ca: string): Promise<number | string> {
  const agent = new Agent({ connect: { ca } });
  try {
    const response = await request(url, { method: 'POST', headers: ceHeaders(), body: '{}', dispatcher: agent });
    await response.body.text();
    return response.statusCode;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  } finally {
    await agent.close();
  }
}

describe('HTTPS at the ingress', () => {
  test('serves the same routes over HTTPS and HTTP; events from both are appended', async (t) => {
    const [pki] = await twoPkis(t);
    const log = new MemoryEventLog();
    t.after(() => log.close());
    const files = await servingFiles(t, pki);
    const { ingress, path, topic, post } = await startTestIngress(t, log, { config: { tls: { ...files, port: 0 } } });
    assert.match(ingress.httpsUrl ?? '', /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(ingress.httpsPort, ingress.port);
    assert.equal(await postTrusting(`${ingress.httpsUrl}${path}`, pki.ca), 202);
    assert.equal((await post(path, ceHeaders(), '{}')).status, 202, 'plain HTTP still on');
    assert.equal(await postTrusting(`${ingress.httpsUrl}${path}`, pki.otherCa), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'a client that does not trust our CA refuses the server');
    assert.equal((await readAll(log, topic)).length, 2);
  });

  test('plain HTTP off: only the HTTPS address is served', async (t) => {
    const [pki] = await twoPkis(t);
    const log = new MemoryEventLog();
    t.after(() => log.close());
    const files = await servingFiles(t, pki);
    const { ingress, path } = await startTestIngress(t, log, { config: { tls: { ...files, port: 0 }, plainHttp: false } });
    assert.equal(ingress.url, ingress.httpsUrl, 'the primary address is the HTTPS one');
    assert.match(ingress.url, /^https:/);
    assert.equal(await postTrusting(`${ingress.url}${path}`, pki.ca), 202);
  });

  test('a certificate rotated on disk is served to new connections without a restart', async (t) => {
    const [before, after] = await twoPkis(t);
    const log = new MemoryEventLog();
    t.after(() => log.close());
    const files = await servingFiles(t, before);
    const { ingress, path } = await startTestIngress(t, log, { config: { tls: { ...files, port: 0 }, plainHttp: false } });
    const url = `${ingress.url}${path}`;
    assert.equal(await postTrusting(url, before.ca), 202);
    assert.notEqual(await postTrusting(url, after.ca), 202, 'the new CA is not trusted yet');

    // A half-written rotation (new certificate, old key) is refused: the old pair keeps serving.
    await copyFile(after.server.certFile, files.certFile);
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(await postTrusting(url, before.ca), 202, 'the mismatched pair was not applied');

    await copyFile(after.server.keyFile, files.keyFile);
    await waitUntil(async () => (await postTrusting(url, after.ca)) === 202, { timeoutMs: 30_000, message: 'the rotated certificate to be served' });
    assert.notEqual(await postTrusting(url, before.ca), 202, 'the old certificate is no longer served');
  });

  // The plain-HTTP counterpart is in ingress-bounds.test.ts; both server paths (fast POSTs on and off) build the server.
  for (const fastPosts of [true, false]) {
    test(`headers that never finish over HTTPS (fast path ${fastPosts ? 'on' : 'off'}): 408 and closed after headersTimeoutMs, as over HTTP`, async (t) => {
      const [pki] = await twoPkis(t);
      const log = new MemoryEventLog();
      t.after(() => log.close());
      const files = await servingFiles(t, pki);
      const config = { tls: { ...files, port: 0 }, plainHttp: false, headersTimeoutMs: 400, requestTimeoutMs: 5000 };
      const { ingress, path } = await startTestIngress(t, log, { config, fastPosts });
      const slow = await connectRaw(ingress.url, { ca: pki.ca });
      t.after(() => slow.close());
      await slow.write(`POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nce-id: 1\r\n`);
      // A TCP connection that never starts the TLS handshake is held no longer.
      const silent = connect({ host: '127.0.0.1', port: ingress.port });
      t.after(() => silent.destroy());
      const silentOpened = Date.now();
      const silentClosed = new Promise<number>((resolve) => silent.once('close', () => resolve(Date.now() - silentOpened)));
      silent.on('error', () => undefined);
      const closed = await slow.closed;
      assert.match(closed.data, /^HTTP\/1\.1 408/);
      // Node's defaults would hold it 60 s (checked every 30 s).
      assert.ok(closed.afterMs >= 350 && closed.afterMs < 3000, `closed after ${closed.afterMs} ms`);
      const silentMs = await silentClosed;
      assert.ok(silentMs < 3000, `a connection that never starts TLS is closed too (${silentMs} ms)`);
    });
  }

  test('start-up errors are one line: unreadable files, a key that does not match, HTTP off without TLS', async (t) => {
    const [a, b] = await twoPkis(t);
    const log = new MemoryEventLog();
    t.after(() => log.close());
    const dir = await tempDir(t, 'ingress-tls-bad-');
    await writeFile(join(dir, 'garbage.pem'), 'not a certificate');
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['missing cert file', { tls: { certFile: join(dir, 'nope.crt'), keyFile: a.server.keyFile, port: 0 } }, /--tls-cert .*nope\.crt cannot be read \(ENOENT\)/],
      ['key of another certificate', { tls: { certFile: a.server.certFile, keyFile: b.server.keyFile, port: 0 } }, /cannot be used together/],
      ['not PEM', { tls: { certFile: join(dir, 'garbage.pem'), keyFile: a.server.keyFile, port: 0 } }, /cannot be used together/],
      ['HTTP off without TLS', { plainHttp: false }, /plain HTTP can only be turned off when HTTPS is configured/],
    ];
    for (const [name, config, message] of cases) {
      await assert.rejects(startTestIngress(t, log, { config }), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'CONFIG_INVALID', name);
        assert.match(error.message, message, name);
        assert.doesNotMatch(error.message, /\n/, name);
        return true;
      });
    }
  });
});
