/**
 * Reading @platformatic/kafka's errors: a failure is a tree (retries and per-partition answers
 * are aggregated in `errors`, a wrapped failure is `cause`); Kafka protocol errors in it carry
 * `apiId`, the protocol's name for the error code (the same names kafkajs uses as `type`).
 */

/** The Kafka protocol error ids anywhere in a platformatic error, depth first. */
export function protocolErrorIds(error: unknown): string[] {
  const ids: string[] = [];
  const visit = (current: unknown, depth: number): void => {
    if (current === null || typeof current !== 'object' || depth > 6) return;
    const { apiId, errors, cause } = current as { apiId?: unknown; errors?: unknown; cause?: unknown };
    if (typeof apiId === 'string') ids.push(apiId);
    if (Array.isArray(errors)) for (const inner of errors) visit(inner, depth + 1);
    visit(cause, depth + 1);
  };
  visit(error, 0);
  return ids;
}

/**
 * The error with the first Kafka protocol error it holds as `type`, the shape kafkajs gives (and
 * that callers read, e.g. the ingress telling MESSAGE_TOO_LARGE from other failures); the library's
 * error stays as `cause`.
 */
export function withProtocolType(error: unknown): unknown {
  const [type] = protocolErrorIds(error);
  if (type === undefined || !(error instanceof Error)) return error;
  return Object.assign(new Error(error.message, { cause: error }), { type });
}

export function hasProtocolError(error: unknown, id: string): boolean {
  return protocolErrorIds(error).includes(id);
}
