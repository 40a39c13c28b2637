import type { IncomingHttpHeaders } from 'node:http';
import type { CloudEvent } from '../core/cloudevents/event.js';
import { BrokerError, asBrokerError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { traceHeadersOfHttp } from '../core/trace-context.js';
import { spanStartTime, type Tracing } from '../core/tracing.js';
import type { Appender } from './append.js';
import type { IngressConfig } from './config.js';
import type { IngressEntry, IngressTable, SenderPolicy } from './ingress-table.js';
import type { IngressMetrics } from './metrics.js';
import { receive } from './receive.js';
import { recordRefused, startIngressSpans, type IngressSpans } from './tracing.js';
import { filtersRefusing, rulesAllowing, type TokenVerifier } from './sender-auth.js';

/**
 * What `POST <ingress path>` does, whichever way the request came in: through fastify's route
 * (broker-ingress/routes.ts) or straight from Node's request handler (broker-ingress/fast-post.ts).
 * The two differ only in how they read the body and write the answer (`PostAnswer`); the guards,
 * their order, their errors, metrics, spans and logs are these.
 *
 *   admit (path → entry: 404 / 503; sender: 401 / 403 / 503)   before the body is read
 *   accept (decode, validate, hop limit, policy filters → durable append → 202)
 */

/** A sender whose allowing EventPolicies all have filters: its events are checked once decoded. */
export interface FilteredSender {
  readonly subject: string;
  readonly allowing: readonly SenderPolicy[];
}

export interface RouteDeps {
  readonly table: IngressTable;
  readonly appender: Appender;
  readonly config: IngressConfig;
  readonly logger: Logger;
  /** Off by default: the trace headers are only copied into the records. */
  readonly tracing?: Tracing | undefined;
  /** Verifies senders' tokens; undefined when the ingress has no OIDC issuer configured. */
  readonly verifier: TokenVerifier | undefined;
  /** Counts refused requests (the appender counts appends); absent: no metrics. */
  readonly metrics?: IngressMetrics | undefined;
}

/** How a transport answers a POST. */
export interface PostAnswer {
  /** Sends the error as `{ statusCode, code, error, message, details? }` with these extra headers. */
  refuse(error: BrokerError, headers: Readonly<Record<string, string>> | undefined): void;
  /** 202, no body: the events are durable. */
  accepted(): void;
}

/** The outcome of `authorize`: why not, the filters its events must pass, or undefined when the sender may publish. */
export type Authorized = BrokerError | FilteredSender | undefined;

export class IngressPosts {
  readonly table: IngressTable;
  readonly metrics: IngressMetrics | undefined;
  /** Retry-After, sent with every 503 of the ingress. */
  readonly unavailableHeaders: Readonly<Record<string, string>>;
  private readonly appender: Appender;
  private readonly logger: Logger;
  private readonly verifier: TokenVerifier | undefined;
  private readonly tracing: Tracing | undefined;
  private readonly debug: boolean;

  constructor(deps: RouteDeps) {
    this.table = deps.table;
    this.appender = deps.appender;
    this.logger = deps.logger;
    this.verifier = deps.verifier;
    this.tracing = deps.tracing;
    this.metrics = deps.metrics;
    this.unavailableHeaders = { 'retry-after': String(deps.config.retryAfterSeconds) };
    this.debug = deps.logger.isLevelEnabled('debug');
  }

  /** The headers a refusal with this error is sent with. */
  headersFor(error: BrokerError): Readonly<Record<string, string>> | undefined {
    return error.status === 503 ? this.unavailableHeaders : undefined;
  }

  /** 404 for a path nothing is served at, or 503 while no contract is loaded (a restarted ingress does not know its brokers yet). */
  notFound(path: string): BrokerError {
    return this.table.loaded
      ? new BrokerError('NOT_FOUND', `no broker, channel or sink is served at ${path}`, { details: { path } })
      : new BrokerError('LOG_UNAVAILABLE', 'the ingress has no contract yet; retry shortly', { details: { path } });
  }

  /** Why this request may not publish to this entry (which has an audience), the filters its events must pass, or undefined when it may. */
  async authorize(entry: IngressEntry, authorization: string | undefined): Promise<Authorized> {
    const audience = entry.audience!;
    const verifier = this.verifier;
    if (verifier === undefined) {
      // Fail closed: the controller asked for authentication this ingress cannot do.
      return new BrokerError('AUTH_UNAVAILABLE', `${entry.path} requires OIDC sender authentication, and this ingress has no OIDC issuer configured (--oidc-issuer)`, { details: { audience } });
    }
    let subject: string;
    try {
      subject = (await verifier.verify(authorization, audience)).subject;
    } catch (error) {
      return asBrokerError(error);
    }
    const allowing = rulesAllowing(entry.senders, subject);
    if (allowing === 'no-policies' || allowing.some((rule) => rule.accepts === undefined)) return undefined;
    if (allowing.length > 0) return { subject, allowing };
    const policies = (entry.senders ?? []).map((rule) => rule.policy);
    return new BrokerError('SENDER_NOT_ALLOWED', `no EventPolicy applying to ${entry.path} allows ${subject}`, { details: { subject, policies } });
  }

  /** A sender refused before its body is read: logged (warned when it is the ingress's fault) and counted. */
  senderRefused(entry: IngressEntry, path: string, refused: BrokerError, startedMs: number): void {
    if (this.debug || refused.status >= 500) this.logger[refused.status >= 500 ? 'warn' : 'debug']({ path, code: refused.code, details: refused.details }, refused.message);
    this.metrics?.refusedSince(entry, refused.status, startedMs);
  }

  /**
   * A POST the server's error handler answered (a body too large or unreadable, the byte budget
   * spent, a failure nothing expected): counted when a resource is served at its path.
   */
  failed(path: string, error: BrokerError, startedMs: number): void {
    const metrics = this.metrics;
    if (metrics === undefined) return;
    const entry = this.table.lookup(path);
    if (entry !== undefined) metrics.refusedSince(entry, error.status, startedMs);
  }

  /**
   * Everything after the body: decode and validate, hop limit, policy filters, the durable append;
   * answers through `answer`. `startedMs` is when the request arrived (performance.now(), 0: not
   * known), for the refusal metric.
   */
  async accept(entry: IngressEntry, path: string, headers: IncomingHttpHeaders, body: Buffer, sender: FilteredSender | undefined, startedMs: number, answer: PostAnswer): Promise<void> {
    const tracer = this.tracing?.tracer;
    const debug = this.debug;
    const startTime = tracer === undefined ? 0 : spanStartTime();
    const received = receive(entry, headers, body);
    // The request's W3C context; the events' distributed-tracing extensions stay as they are.
    const hop = traceHeadersOfHttp(headers);
    if (!received.ok) {
      if (debug) this.logger.debug({ path, code: received.error.code, details: received.error.details }, received.error.message);
      if (tracer !== undefined) recordRefused(tracer, hop, entry, path, received.error, startTime);
      this.metrics?.refusedSince(entry, received.error.status, startedMs);
      answer.refuse(received.error, undefined);
      return;
    }
    if (sender !== undefined) {
      const refused = refusedByFilters(entry, sender, received.events);
      if (refused !== undefined) {
        if (debug) this.logger.debug({ path, code: refused.code, details: refused.details }, refused.message);
        if (tracer !== undefined) recordRefused(tracer, hop, entry, path, refused, startTime);
        this.metrics?.refusedSince(entry, refused.status, startedMs);
        answer.refuse(refused, undefined);
        return;
      }
    }
    if (received.warnings !== undefined && debug) this.logger.debug({ path, warnings: received.warnings }, 'event accepted with warnings');
    let spans: IngressSpans | undefined;
    if (tracer !== undefined) spans = startIngressSpans(tracer, hop, entry, path, received.events, startTime);
    try {
      await this.appender.append(entry, received.events, spans === undefined ? hop : spans.recordContext);
    } catch (error) {
      const brokerError = asBrokerError(error);
      spans?.end(brokerError);
      this.logger.warn({ path, topic: entry.topic, code: brokerError.code, err: brokerError.cause ?? brokerError }, brokerError.message);
      answer.refuse(brokerError, this.headersFor(brokerError));
      return;
    }
    spans?.end();
    answer.accepted();
  }
}

/** 403 when an event of the request passes the filters of none of the policies allowing its sender; a batch is refused whole. */
function refusedByFilters(entry: IngressEntry, sender: FilteredSender, events: readonly CloudEvent[]): BrokerError | undefined {
  for (const event of events) {
    const policies = filtersRefusing(sender.allowing, event);
    if (policies === undefined) continue;
    const id = String(event.attributes['id']);
    return new BrokerError('SENDER_NOT_ALLOWED', `event ${id} (type ${String(event.attributes['type'])}) from ${sender.subject} to ${entry.path} does not pass the filters of EventPolicy ${policies.join(', ')}`, {
      details: { subject: sender.subject, policies, reason: 'filters', id },
    });
  }
  return undefined;
}
