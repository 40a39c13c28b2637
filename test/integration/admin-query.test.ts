/**
 * A query parameter given twice is a 400 with the project's error body on every route of the
 * admin server, the dead-letter page included (it was a 500 on the page). It is
 * refused in core/http-server.ts before any route runs (and before authentication), so this goes through `kafka-broker start`
 * as a user runs it: the admin API, the contract feed, and the dead-letter API and page.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adminHeaders, brokerManifest, manifestsFolder, startBroker } from './start-cli.js';

test('a repeated query parameter is 400 INVALID_REQUEST on the admin API and the dead-letter page', { timeout: 60_000 }, async (t) => {
  const folder = await manifestsFolder(t);
  await folder.write('broker.yaml', [brokerManifest('default', 'default')]);
  const broker = await startBroker(t, { manifests: folder.dir, env: { KAFKA_BOOTSTRAP_SERVERS: '' } });

  const repeated = [
    ['/dead-letters?since=1h&since=2h', 'since'],
    ['/dead-letters?sink=a&limit=1&sink=b', 'sink'],
    ['/dead-letters/events?trigger=a&trigger=b', 'trigger'],
    ['/contract?after=1&after=2', 'after'],
    ['/apis/eventing.knative.dev/v1/brokers?x=1&x=2', 'x'],
    ['/?__proto__=1&__proto__=2', '__proto__'],
    ['/healthz?a=1&a=2', 'a'],
  ] as const;
  for (const [path, parameter] of repeated) {
    const response = await fetch(`${broker.adminUrl}${path}`);
    assert.equal(response.status, 400, path);
    assert.deepEqual(await response.json(), {
      statusCode: 400,
      code: 'INVALID_REQUEST',
      error: 'Bad Request',
      message: `query parameter '${parameter}' is given more than once`,
      details: { parameter },
    }, path);
  }
  // Given once, the same parameters work as before.
  for (const path of ['/dead-letters?since=1h', '/dead-letters/events?since=1h&limit=5', '/apis/eventing.knative.dev/v1/brokers?x=1', '/?__proto__=1']) {
    const response = await fetch(`${broker.adminUrl}${path}`, { headers: adminHeaders() });
    assert.equal(response.status, 200, path);
    await response.arrayBuffer();
  }
  assert.equal(broker.child.exitCode, null, 'the process is still up');
});
