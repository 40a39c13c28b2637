/**
 * Delivery to https subscribers: a subscriber whose certificate is signed by a CA made for the
 * test is reached when the dispatcher is given that CA, and refused (a network outcome, retried
 * like any other) when it is not.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { HttpSender } from '../../../dispatcher/delivery.js';
import { generateKafkaPki } from '../../../scripts/kafka/pki.js';

test('https subscribers: trusted with the given CA, refused without it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dispatcher-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const pki = await generateKafkaPki(dir);
  const server = createServer({ cert: pki.server.cert, key: pki.server.key }, (request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(200).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const url = `https://127.0.0.1:${(server.address() as { port: number }).port}/`;
  const message = { url, headers: { 'content-type': 'application/json' }, body: Buffer.from('{}') };

  const trusting = new HttpSender({ connections: 1, maxResponseBytes: 1024, trustedCa: pki.ca });
  const plain = new HttpSender({ connections: 1, maxResponseBytes: 1024 });
  const otherCa = new HttpSender({ connections: 1, maxResponseBytes: 1024, trustedCa: pki.otherCa });
  t.after(() => Promise.all([trusting.close(), plain.close(), otherCa.close()]));

  const ok = await trusting.send(message, 5000);
  assert.equal(ok.kind === 'response' && ok.status, 200);
  for (const [name, sender] of [['no CA given', plain], ['another CA', otherCa]] as const) {
    const refused = await sender.send(message, 5000);
    assert.equal(refused.kind, 'network', name);
  }
});
