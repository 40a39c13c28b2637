import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

/**
 * HTTP/1.1 over a plain socket, for requests no well-behaved client sends: headers that never
 * finish, bodies that trickle in, malformed lines. What the server sends back is collected as
 * text, and the moment it closes the connection is recorded.
 */

export interface RawConnection {
  readonly socket: Socket;
  /** Everything received so far. */
  received(): string;
  /** Writes and resolves once the bytes are handed to the kernel; false if the connection is gone. */
  write(data: string | Buffer): Promise<boolean>;
  /** Resolves when the server ends or resets the connection, with what it sent and when (ms since connect). */
  readonly closed: Promise<{ readonly data: string; readonly afterMs: number; readonly reset: boolean }>;
  /** Resolves with the status code of the first response once its head has arrived (undefined if closed before). */
  status(): Promise<number | undefined>;
  close(): void;
}

/** An https: URL is spoken to over TLS, trusting only `options.ca` (the test's own CA). */
export function connectRaw(url: string, options: { readonly ca?: string } = {}): Promise<RawConnection> {
  const { hostname, port, protocol } = new URL(url);
  const tls = protocol === 'https:';
  const socket = tls
    ? connectTls({ host: hostname, port: Number(port), ...(options.ca === undefined ? {} : { ca: options.ca }) })
    : connect({ host: hostname, port: Number(port) });
  const start = Date.now();
  let data = '';
  let reset = false;
  const waiters: (() => void)[] = [];
  socket.on('data', (chunk: Buffer) => {
    data += chunk.toString('latin1');
    for (const wake of waiters.splice(0)) wake();
  });
  socket.on('error', () => {
    reset = true;
  });
  const closed = new Promise<{ data: string; afterMs: number; reset: boolean }>((resolve) => {
    socket.on('close', () => {
      for (const wake of waiters.splice(0)) wake();
      resolve({ data, afterMs: Date.now() - start, reset });
    });
  });
  const connection: RawConnection = {
    socket,
    received: () => data,
    write: (chunk) =>
      new Promise((resolve) => {
        if (socket.destroyed || !socket.writable) {
          resolve(false);
          return;
        }
        socket.write(chunk, (error) => resolve(error === undefined || error === null));
      }),
    closed,
    status: async () => {
      for (;;) {
        const match = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n/.exec(data);
        if (match !== null) return Number(match[1]);
        if (socket.destroyed) return undefined;
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
    close: () => socket.destroy(),
  };
  return new Promise((resolve, reject) => {
    socket.once(tls ? 'secureConnect' : 'connect', () => resolve(connection));
    socket.once('error', reject);
  });
}

/** The head of a binary-mode CloudEvent POST, declaring `contentLength` (or chunked when undefined). */
export function eventHead(path: string, contentLength: number | undefined, id = `raw-${Date.now()}-${Math.random()}`): string {
  const length = contentLength === undefined ? 'transfer-encoding: chunked' : `content-length: ${contentLength}`;
  return [
    `POST ${path} HTTP/1.1`,
    'host: 127.0.0.1',
    'ce-specversion: 1.0',
    `ce-id: ${id}`,
    'ce-source: /raw',
    'ce-type: test.raw',
    'content-type: application/octet-stream',
    length,
    '',
    '',
  ].join('\r\n');
}

/** One chunk of a chunked body (an empty buffer is the last chunk). */
export function chunk(body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n')]);
}
