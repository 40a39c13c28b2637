import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
  readonly at: number;
}

export interface RecordingServer {
  readonly url: string;
  readonly requests: ReceivedRequest[];
  /** Replaces how the server answers (default: 200 with no body). */
  respond(handler: (request: ReceivedRequest, response: ServerResponse) => void | Promise<void>): void;
  close(): Promise<void>;
}

/**
 * A real HTTP server on a free loopback port that records every request: a subscriber or a
 * dead-letter sink in tests. Register `close` with `t.after`.
 */
export async function startRecordingServer(): Promise<RecordingServer> {
  const requests: ReceivedRequest[] = [];
  let handler: (request: ReceivedRequest, response: ServerResponse) => void | Promise<void> = (_req, res) => {
    res.statusCode = 200;
    res.end();
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const received: ReceivedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), at: Date.now() };
      requests.push(received);
      Promise.resolve(handler(received, res)).catch(() => {
        res.statusCode = 500;
        res.end();
      });
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    respond: (h) => {
      handler = h;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
