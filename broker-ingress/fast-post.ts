import type { IncomingMessage, ServerResponse } from 'node:http';
import { BrokerError, asBrokerError } from '../core/errors.js';
import type { Holding } from '../core/http-body.js';
import { mayHaveBody } from '../core/http-body.js';
import { sendErrorRaw, type RequestTaker, type ServerParts } from '../core/http-server.js';
import type { IngressEntry } from './ingress-table.js';
import type { Authorized, FilteredSender, IngressPosts, PostAnswer } from './post.js';

/**
 * `POST <ingress path>` served straight from Node's request handler: no fastify request, reply,
 * hooks, router or content-type parser per event (they were about 15 % of the ingress's CPU,
 * issue 17). The steps are post.ts's, the body reader and the error handler the server's
 * (core/http-server.ts), so the answers are the same as through fastify's route, byte for byte.
 *
 * It takes only requests whose handling by fastify it knows exactly, and leaves everything else
 * to fastify's routes, which answer as they always have:
 *
 *   - POST only (OPTIONS, 405s, /metrics, /healthz, /readyz are fastify's);
 *   - not once the server is closing (fastify answers 503 and closes the connection);
 *   - a path from '/' without '%', '?', '#' or ';': the router neither decodes nor splits it, and
 *     there is no query string to check, so the path is the URL;
 *   - no Content-Type, or one whose media type is a plain `token/token` (parameters after ';' do
 *     not change fastify's verdict): fastify would take it as valid;
 *   - no Accept-Version (fastify's router reads it as a route constraint).
 */
export function takeIngressPosts(posts: IngressPosts, server: ServerParts): RequestTaker {
  return (request, response) => {
    if (request.method !== 'POST' || server.closing()) return false;
    const url = request.url;
    if (url === undefined || !plainPath(url)) return false;
    const headers = request.headers;
    const type = headers['content-type'];
    if ((type !== undefined && !PLAIN_MEDIA_TYPE.test(type)) || headers['accept-version'] !== undefined) return false;
    // As the server's onRequest hook does before the route's: the body's share of the byte budget.
    const holding = server.bodies.holdingFor(headers, response);
    const post = new FastPost(posts, server, request, response, url, holding, posts.metrics === undefined ? 0 : performance.now());
    try {
      post.admit();
    } catch (error) {
      post.fail(error);
    }
    return true;
  };
}

/** `type/subtype` in token characters (RFC 9110 §5.6.2), then parameters or nothing. */
const PLAIN_MEDIA_TYPE = /^[\w!#$%&'*+.^`|~-]+\/[\w!#$%&'*+.^`|~-]+(?:;.*)?$/;

/** A path the router takes as it is: from '/', no percent-encoding, no query or fragment, no ';'. */
export function plainPath(url: string): boolean {
  if (url.charCodeAt(0) !== 0x2f) return false;
  for (let i = 1; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 0x25 || c === 0x3f || c === 0x23 || c === 0x3b) return false;
  }
  return true;
}

const ACCEPTED = { 'content-length': '0' };
const EMPTY = Buffer.alloc(0);

/** One POST: admitted (path, sender), its body read, accepted or refused. */
class FastPost implements PostAnswer {
  private sender: FilteredSender | undefined = undefined;

  constructor(
    private readonly posts: IngressPosts,
    private readonly server: ServerParts,
    private readonly request: IncomingMessage,
    private readonly response: ServerResponse,
    private readonly path: string,
    private readonly holding: Holding | null,
    private readonly startedMs: number,
  ) {}

  /** 404 / 503 for the path, then the sender (an entry with an audience), before the body is read. */
  admit(): void {
    const posts = this.posts;
    const entry = posts.table.lookup(this.path);
    if (entry === undefined) {
      const error = posts.notFound(this.path);
      this.refuse(error, posts.headersFor(error));
      return;
    }
    if (entry.audience === undefined) {
      this.readBody();
      return;
    }
    posts.authorize(entry, this.request.headers.authorization).then(
      (authorized) => this.authorized(entry, authorized),
      (error: unknown) => this.refuse(asBrokerError(error), undefined),
    ).then(undefined, (error: unknown) => this.fail(error));
  }

  private authorized(entry: IngressEntry, authorized: Authorized): void {
    if (authorized instanceof BrokerError) {
      this.posts.senderRefused(entry, this.path, authorized, this.startedMs);
      this.refuse(authorized, this.posts.headersFor(authorized));
      return;
    }
    this.sender = authorized;
    this.readBody();
  }

  private readBody(): void {
    const headers = this.request.headers;
    // fastify calls no parser for a request without Content-Type and without a body.
    if (headers['content-type'] === undefined && !mayHaveBody(headers)) {
      this.bodyRead(null, EMPTY);
      return;
    }
    this.server.bodies.readBody(headers, this.holding, this.request, this.bodyRead);
  }

  private readonly bodyRead = (error: Error | null, body?: Buffer): void => {
    if (error !== null) {
      // As fastify does on a parser error: the rest of the body is not read, the connection ends.
      this.response.setHeader('connection', 'close');
      this.fail(error);
      return;
    }
    // Looked up again: the contract may have changed while the body was read.
    const entry = this.posts.table.lookup(this.path);
    if (entry === undefined) {
      const notFound = this.posts.notFound(this.path);
      this.refuse(notFound, this.posts.headersFor(notFound));
      return;
    }
    this.posts.accept(entry, this.path, this.request.headers, body ?? EMPTY, this.sender, this.startedMs, this).then(undefined, (thrown: unknown) => this.fail(thrown));
  };

  /** What fastify's error handler does: the server's answer, and the refusal counted. */
  fail(error: unknown): void {
    if (this.response.headersSent) return;
    const answered = this.server.fail(this.response, error);
    this.posts.failed(this.path, answered, this.startedMs);
  }

  refuse(error: BrokerError, headers: Readonly<Record<string, string>> | undefined): void {
    sendErrorRaw(this.response, error, headers);
  }

  accepted(): void {
    this.response.writeHead(202, ACCEPTED);
    this.response.end();
  }
}
