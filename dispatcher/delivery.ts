import { rootCertificates } from 'node:tls';
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
  /**
   * How many bytes of the response body the caller uses, by outcome (2xx or not). No more is
   * kept: the rest is read and thrown away (so the connection can be reused) up to the sender's
   * `maxResponseBytes`, past which the connection is closed instead. Default: `maxResponseBytes`.
   */
  readonly keepResponseBytes?: { readonly success: number; readonly failure: number } | undefined;
}

export type AttemptResult =
  | {
      readonly kind: 'response';
      readonly status: number;
      /** Lower-case names; repeated headers joined with ", ". */
      readonly headers: Readonly<Record<string, string>>;
      readonly body: Buffer;
      /** The body was longer than what was kept (`keepResponseBytes`, else the limit) and was cut there. */
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
  /** PEM CA certificates trusted for https destinations, in addition to the public ones. */
  readonly trustedCa?: string | undefined;
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
      // Given a CA, trust it as well as the public roots (setting `ca` alone would replace them).
      ...(options.trustedCa === undefined ? {} : { connect: { ca: [...rootCertificates, options.trustedCa] } }),
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
      const success = response.statusCode >= 200 && response.statusCode < 300;
      const wanted = success ? message.keepResponseBytes?.success : message.keepResponseBytes?.failure;
      const keep = Math.min(wanted ?? this.maxResponseBytes, this.maxResponseBytes);
      const { body, truncated } = await readLimited(response.body, keep, this.maxResponseBytes);
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

/**
 * Keeps the first `keep` bytes of a body (copied, so no larger socket chunk stays referenced) and
 * reads past them without keeping anything, up to `limit`; a longer body is cut off by closing
 * the connection rather than drained.
 */
async function readLimited(stream: AsyncIterable<Buffer> & { destroy(): unknown }, keep: number, limit: number): Promise<{ body: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let kept = 0;
  let seen = 0;
  for await (const chunk of stream) {
    seen += chunk.length;
    if (kept < keep) {
      const part = chunk.length <= keep - kept ? chunk : chunk.subarray(0, keep - kept);
      chunks.push(part);
      kept += part.length;
    }
    if (seen > limit) {
      stream.destroy();
      break;
    }
  }
  const truncated = seen > kept;
  // Whole chunks are the reply itself; a cut one is copied into memory of its own (not Buffer's
  // shared pool, whose slab may be large) so that neither the socket chunk nor a slab stays held.
  if (chunks.length === 1 && !truncated) return { body: chunks[0]!, truncated };
  const body = Buffer.allocUnsafeSlow(kept);
  let at = 0;
  for (const chunk of chunks) at += chunk.copy(body, at);
  return { body, truncated };
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
