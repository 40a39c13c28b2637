import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { test } from 'node:test';
import { freePort, freePorts } from '../../../scripts/net/ports.js';
import { isPortTaken, onFreePorts } from '../../helpers/ports.js';

test('freePorts hands out distinct ports, each of which can then be listened on', async () => {
  const ports = [...(await freePorts(4)), await freePort()];
  assert.equal(new Set(ports.slice(0, 4)).size, 4);
  for (const port of ports) {
    const server = createServer();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
    await new Promise((resolve) => server.close(resolve));
  }
});

test('onFreePorts starts again on other ports when one was taken, and only then', async () => {
  const listen = (port: number): Promise<Server> =>
    new Promise((resolve, reject) => {
      const server = createServer();
      server.once('error', reject).listen(port, '127.0.0.1', () => resolve(server));
    });
  const close = (server: Server): Promise<unknown> => new Promise((resolve) => server.close(resolve));
  // The first port is taken between its choice and the listen, as another process may do.
  const tried: number[] = [];
  const thief: Server[] = [];
  const server = await onFreePorts(1, async ([port]) => {
    tried.push(port!);
    if (tried.length === 1) thief.push(await listen(port!));
    return listen(port!);
  });
  assert.equal(tried.length, 2);
  assert.notEqual(tried[0], tried[1]);
  assert.equal((server.address() as AddressInfo).port, tried[1]);
  await Promise.all([server, ...thief].map(close));

  let calls = 0;
  await assert.rejects(onFreePorts(1, async () => {
    calls++;
    throw new Error('no such file');
  }), /no such file/);
  assert.equal(calls, 1, 'another failure is not retried');
  assert.ok(isPortTaken(new Error('ingress: cannot listen on 127.0.0.1:8080: port 8080 is already in use; choose another with --port')));
});
