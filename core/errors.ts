/**
 * The closed registry of error kinds. Every failure a caller can act on is a `BrokerError` with one
 * of these codes; `toHttpBody` and `toLogFields` are the one place they map to the outside.
 * The README's error table lists the same codes (a test checks it).
 */
export const errorKinds = {
  EVENT_INVALID: { status: 400, message: 'the request is not a valid CloudEvent' },
  NOT_A_CLOUDEVENT: { status: 400, message: 'the request is not a CloudEvent' },
  TTL_EXHAUSTED: { status: 400, message: 'the event exceeded its hop limit (knativebrokerttl)' },
  BODY_TOO_LARGE: { status: 413, message: 'the request body is larger than the limit' },
  EVENT_TOO_LARGE: { status: 413, message: 'the event is larger than the largest record the topic takes' },
  BATCH_TOO_LARGE: { status: 413, message: 'the batch has more events than the ingress can ever hold at once' },
  NOT_FOUND: { status: 404, message: 'no such resource' },
  INVALID_REQUEST: { status: 400, message: 'the request is invalid' },
  ALREADY_REPLAYED: { status: 409, message: 'the dead letter was already replayed; ask with force to replay it again' },
  GROUP_BUSY: { status: 409, message: 'the consumer group is busy: it has active members, is rebalancing, or is being rewound' },
  CONFIRMATION_REQUIRED: { status: 409, message: 'the operation needs confirmation' },
  UNAUTHENTICATED: { status: 401, message: 'the admin API needs a bearer token (or a login session)' },
  FORBIDDEN: { status: 403, message: 'the request is not allowed' },
  TOKEN_INVALID: { status: 401, message: 'a valid bearer token for this address is required' },
  SENDER_NOT_ALLOWED: { status: 403, message: 'no EventPolicy allows this sender' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'unsupported content type' },
  TOPIC_NOT_FOUND: { status: 503, message: 'the topic does not exist' },
  LOG_UNAVAILABLE: { status: 503, message: 'the event log cannot take the write' },
  AUTH_UNAVAILABLE: { status: 503, message: "the OIDC issuer's keys cannot be read" },
  KAFKA_AUTH_FAILED: { status: 503, message: 'Kafka refused the SASL credentials' },
  KAFKA_TLS_FAILED: { status: 503, message: 'the TLS connection to Kafka failed' },
  OVERLOADED: { status: 503, message: 'the server holds as many request bytes as it may' },
  KAFKA_AUTH_INVALID: { status: 503, message: 'the Kafka credentials named for a resource are missing or invalid' },
  CONTRACT_INVALID: { status: 500, message: 'the data-plane contract is invalid' },
  CONFIG_INVALID: { status: 500, message: 'the configuration is invalid' },
  INTERNAL: { status: 500, message: 'internal error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorKinds;
export const errorCodes = Object.keys(errorKinds) as ErrorCode[];

export interface BrokerErrorOptions {
  /** Structured detail for the response body and the log (e.g. attribute, value, rule). */
  readonly details?: Readonly<Record<string, unknown>>;
  /** Whether trying the same thing again later may succeed. Defaults from the status (5xx). */
  readonly retriable?: boolean;
  readonly cause?: unknown;
}

export class BrokerError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Readonly<Record<string, unknown>> | undefined;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message?: string, options: BrokerErrorOptions = {}) {
    super(message ?? errorKinds[code].message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BrokerError';
    this.code = code;
    this.status = errorKinds[code].status;
    this.details = options.details;
    this.retriable = options.retriable ?? this.status >= 500;
  }
}

export function isBrokerError(error: unknown): error is BrokerError {
  return error instanceof BrokerError;
}

/** Any thrown value as a BrokerError; unknown failures become INTERNAL. */
export function asBrokerError(error: unknown): BrokerError {
  if (isBrokerError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new BrokerError('INTERNAL', message, { cause: error });
}

/** The HTTP body shape used for every error response. */
export interface HttpErrorBody {
  statusCode: number;
  code: ErrorCode;
  error: string;
  message: string;
  details?: Readonly<Record<string, unknown>>;
}

const reasonPhrases: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 413: 'Payload Too Large',
  409: 'Conflict', 415: 'Unsupported Media Type', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

export function toHttpBody(error: BrokerError): HttpErrorBody {
  const body: HttpErrorBody = {
    statusCode: error.status,
    code: error.code,
    error: reasonPhrases[error.status] ?? 'Error',
    message: error.message,
  };
  if (error.details !== undefined) body.details = error.details;
  return body;
}

export function toLogFields(error: BrokerError): Record<string, unknown> {
  return { code: error.code, status: error.status, retriable: error.retriable, ...error.details, err: error.cause ?? undefined };
}
