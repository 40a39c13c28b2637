import { createServer, type Server } from 'node:net';

/**
 * Ports free on 127.0.0.1 a moment ago, for programs that take a fixed port (Kafka, the API
 * server, toxiproxy, a CLI under test). All are held open together, so none is handed out twice;
 * another process may still take one before it is used.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<Server>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  })));
  const ports = servers.map((server) => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('unexpected server address');
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  return ports;
}

/** One port as `freePorts` gives them. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}
