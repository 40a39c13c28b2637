import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Delivery } from './tally.js';

/**
 * A recording subscriber for the fault suite: a real HTTP server on 127.0.0.1 that answers each
 * delivery as its current behaviour says and records, as delivered, only the events it answered
 * 2xx to on a connection still open (what the dispatcher can have seen as a success).
 */
export type Answer =
  | { readonly kind: 'ok' }
  /** An error status (5xx bursts). */
  | { readonly kind: 'status'; readonly status: number }
  /** No answer; the connection is dropped after `ms` (the dispatcher's timeout fires first). */
  | { readonly kind: 'hang'; readonly ms: number }
  /** The connection is reset at once. */
  | { readonly kind: 'reset' }
  /** Held until `until` (epoch ms), then answered 200: a stalled subscriber that recovers. */
  | { readonly kind: 'stall'; readonly until: number };

export interface Subscriber {
  readonly name: string;
  readonly url: string;
  /** Sets how each request is answered from now on (default: ok). */
  behave(answer: (now: number) => Answer): void;
  /** Stops listening (connections refused) until `listen()`; recorded deliveries are kept. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
  /** Requests received, answered or not. */
  readonly attempts: () => number;
}

/** Starts a subscriber recording into `sink` under its `name` (the trigger it serves). */
export async function startSubscriber(name: string, sink: Delivery[]): Promise<Subscriber> {
  let answer: (now: number) => Answer = () => ({ kind: 'ok' });
  let attempts = 0;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      attempts++;
      const id = eventId(req, Buffer.concat(chunks));
      const ok = (): void => {
        if (res.destroyed || req.socket.destroyed) return;
        res.statusCode = 200;
        res.end();
        if (id !== undefined) sink.push({ trigger: name, id, at: Date.now() });
      };
      const a = answer(Date.now());
      switch (a.kind) {
        case 'ok':
          return ok();
        case 'status':
          res.statusCode = a.status;
          res.end();
          return;
        case 'hang': {
          const timer = setTimeout(() => {
            timers.delete(timer);
            req.socket.destroy();
          }, a.ms);
          timers.add(timer);
          return;
        }
        case 'reset':
          req.socket.resetAndDestroy();
          return;
        case 'stall': {
          const timer = setTimeout(() => {
            timers.delete(timer);
            ok();
          }, Math.max(0, a.until - Date.now()));
          timers.add(timer);
          return;
        }
        default: {
          const never: never = a;
          throw new Error(`unknown answer ${String(never)}`);
        }
      }
    });
  };
  const server = createServer(handle);
  server.keepAliveTimeout = 5000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const closeServer = (): Promise<void> =>
    new Promise<void>((resolve) => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return {
    name,
    url: `http://127.0.0.1:${port}/${name}`,
    behave: (fn) => {
      answer = fn;
    },
    down: closeServer,
    up: () => new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    }),
    close: async () => {
      if (server.listening) await closeServer();
    },
    attempts: () => attempts,
  };
}

/** The event's id: the `ce-id` header (binary mode) or the `id` member (structured mode). */
function eventId(req: IncomingMessage, body: Buffer): string | undefined {
  const header = req.headers['ce-id'];
  if (typeof header === 'string') return header;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { id?: unknown };
    return typeof parsed.id === 'string' ? parsed.id : undefined;
  } catch {
    return undefined;
  }
}
