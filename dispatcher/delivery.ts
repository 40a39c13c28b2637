import { Agent, request } from 'undici';

/**
 * One HTTP attempt, and nothing else: no retries, no decisions. The dispatcher shares one
 * keep-alive connection pool per destination origin (undici's Agent keeps one Pool per origin),
 * so a busy egress reuses its connections instead of opening one per event.
 */

export interface HttpRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | undefined;
}

export type AttemptResult =
  | {
      readonly kind: 'response';
      readonly status: number;
      /** Lower-case names; repeated headers joined with ", ". */
      readonly headers: Readonly<Record<string, string>>;
      readonly body: Buffer;
      /** The body was longer than the limit and was cut there. */
      readonly truncated: boolean;
    }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'network'; readonly message: string }
  /** Given up because the caller's signal fired (shutdown, revocation), not the destination's fault. */
  | { readonly kind: 'aborted' };

/** What dispatch needs of an HTTP client: one attempt, resolved with its result, never rejected. */
export interface Sender {
  send(message: HttpRequest, timeoutMs: number, signal?: AbortSignal): Promise<AttemptResult>;
}

export interface HttpSenderOptions {
  /** Connections kept per origin. */
  readonly connections: number;
  /** Longest response body read; the rest is discarded. */
  readonly maxResponseBytes: number;
}

export class HttpSender implements Sender {
  private readonly agent: Agent;
  private readonly maxResponseBytes: number;

  constructor(options: HttpSenderOptions) {
    this.agent = new Agent({
      connections: options.connections,
      // Keep idle connections long enough to bridge backoff waits, short enough to notice pods going away.
      keepAliveTimeout: 10_000,
      keepAliveMaxTimeout: 60_000,
      // Our own timer bounds each attempt as a whole (headers and body); undici's would only bound parts.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    this.maxResponseBytes = options.maxResponseBytes;
  }

  /** Sends one POST; resolves with what happened, never rejects. */
  async send(message: HttpRequest, timeoutMs: number, signal?: AbortSignal): Promise<AttemptResult> {
    if (signal?.aborted) return { kind: 'aborted' };
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onAbort = (): void => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const response = await request(message.url, {
        method: 'POST',
        headers: message.headers,
        body: message.body ?? null,
        dispatcher: this.agent,
        signal: controller.signal,
      });
      const { body, truncated } = await readLimited(response.body, this.maxResponseBytes);
      return { kind: 'response', status: response.statusCode, headers: flattenHeaders(response.headers), body, truncated };
    } catch (error) {
      if (timedOut) return { kind: 'timeout' };
      if (signal?.aborted) return { kind: 'aborted' };
      return { kind: 'network', message: describeNetworkError(error) };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** Closes every connection at once, abandoning requests in progress. */
  async destroy(): Promise<void> {
    await this.agent.destroy();
  }
}

async function readLimited(stream: AsyncIterable<Buffer> & { destroy(): unknown }, limit: number): Promise<{ body: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    if (size + chunk.length > limit) {
      chunks.push(chunk.subarray(0, limit - size));
      size = limit;
      // Discard the rest: the connection is closed rather than drained.
      stream.destroy();
      return { body: Buffer.concat(chunks, size), truncated: true };
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return { body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size), truncated: false };
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

function describeNetworkError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${typeof code === 'string' ? `${code} ` : ''}${error.message}${cause}`;
  }
  return String(error);
}
