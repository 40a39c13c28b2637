import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { freePort, freePorts } from '../../../scripts/net/ports.js';

test('freePorts hands out distinct ports, each of which can then be listened on', async () => {
  const ports = [...(await freePorts(4)), await freePort()];
  assert.equal(new Set(ports.slice(0, 4)).size, 4);
  for (const port of ports) {
    const server = createServer();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
    await new Promise((resolve) => server.close(resolve));
  }
});
