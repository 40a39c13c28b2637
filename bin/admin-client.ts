/**
 * What the commands that read a running `kafka-broker start` (`get`, `dead-letters`) share: where
 * its admin API is, how its answers are read, and the json/yaml output of `-o`.
 */
import { stringify } from 'yaml';
import { clientToken, TOKEN_ENV } from './admin-token.js';
import { CliError, type CliIo } from './cli.js';

/** `--server`, else $KAFKA_BROKER_ADMIN_URL, else the default admin address, without a trailing slash. */
export const adminServer = (flag: string | undefined, io: CliIo): string =>
  (flag ?? (io.env['KAFKA_BROKER_ADMIN_URL'] || 'http://127.0.0.1:9090')).replace(/\/+$/, '');

/** The admin API's address and the headers that authenticate to it (bin/admin-token.ts says where the token comes from). */
export async function adminConnection(values: { server?: string | undefined; 'token-file'?: string | undefined }, io: CliIo): Promise<{ server: string; headers: Record<string, string> }> {
  const token = await clientToken(values['token-file'], io.env);
  return { server: adminServer(values.server, io), headers: token === undefined ? {} : { authorization: `Bearer ${token}` } };
}

/** The error for a fetch to the admin API that got no answer. */
export const unreachable = (server: string): CliError =>
  new CliError(`cannot reach the admin API at ${server} (is \`kafka-broker start\` running? --server points elsewhere)`);

/** The JSON body of an admin API answer; an error answer's `message` (core/errors.ts toHttpBody) becomes the CLI error. */
export async function readAdminResponse<T>(response: Response, server: string): Promise<T> {
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new CliError(`${server} did not answer like the kafka-broker admin API (HTTP ${response.status})`);
  }
  if (response.status === 401) {
    throw new CliError(`the admin API at ${server} refused the token: give --token-file <file> or set ${TOKEN_ENV} (\`kafka-broker start\` keeps its token in ~/.local/state/kafka-broker/admin-token)`);
  }
  if (!response.ok) {
    const message = typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string' ? (body as { message: string }).message : `HTTP ${response.status}`;
    throw new CliError(message);
  }
  return body as T;
}

/** `-o json|yaml`: the value as it is. */
export function format(value: unknown, output: 'json' | 'yaml'): string {
  return output === 'json' ? `${JSON.stringify(value, null, 2)}\n` : stringify(value, { lineWidth: 0 });
}

/** The flags every admin-API command takes, for parseArgs. */
export const ADMIN_CLIENT_OPTIONS = {
  output: { type: 'string', short: 'o' },
  server: { type: 'string' },
  'token-file': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type Output = 'table' | 'json' | 'yaml';

/** `-o`: table (the default), json or yaml. */
export function outputFormat(flag: string | undefined): Output {
  const output = flag ?? 'table';
  if (output !== 'table' && output !== 'json' && output !== 'yaml') throw new CliError(`-o must be table, json or yaml, got "${output}"`);
  return output;
}
