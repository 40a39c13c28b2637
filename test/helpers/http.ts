import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeHttp } from '../../core/cloudevents/http-binding.js';

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

/** The ids of the CloudEvents a recording server received (at `path`, when given), in arrival order. */
export function receivedIds(server: RecordingServer, path?: string): string[] {
  return server.requests.filter((r) => path === undefined || r.url === path).flatMap((r) => {
    const decoded = decodeHttp(r.headers, r.body);
    return decoded.ok ? decoded.events.map((e) => String(e.attributes['id'])) : [];
  });
}

/** POSTs a small CloudEvent in binary mode (source /shop, data `{}`). */
export function postEvent(url: string, id: string, type: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/shop', 'ce-type': type, 'content-type': 'application/json' },
    body: '{}',
  });
}
