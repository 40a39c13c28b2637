/** Small checks on values of unknown shape, shared by every component (one home each). */

/** A plain object (not null, not an array): what a parsed JSON or YAML mapping is. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An absolute http(s) URL with a host: what a destination, a sink or a replay target must be. */
export function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host !== '';
  } catch {
    return false;
  }
}

/** The end of an exhaustive `switch`: the compiler proves it unreachable; at run time it is a bug. */
export function assertNever(value: never): never {
  throw new Error(`unreachable: unexpected value ${JSON.stringify(value)}`);
}
