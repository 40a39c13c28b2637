/**
 * What the commands that read a running `kafka-broker start` (`get`, `describe`, `dead-letters`)
 * share: where its admin API is, how its answers are read, and the json/yaml output of `-o`.
 */
import { stringify } from 'yaml';
import { didYouMean } from '../core/suggest.js';
import { clientToken, TOKEN_ENV } from './admin-token.js';
import { CliError, type CliIo } from './cli.js';
import { isRecord } from '../core/values.js';

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9090';

/** `--server`, else $KAFKA_BROKER_ADMIN_URL (which `start` prints), else the default admin address, without a trailing slash. */
export const adminServer = (flag: string | undefined, io: CliIo): string =>
  (flag ?? (io.env['KAFKA_BROKER_ADMIN_URL'] || DEFAULT_ADMIN_URL)).replace(/\/+$/, '');

/**
 * A client of the admin API at `--server` (else $KAFKA_BROKER_ADMIN_URL), authenticated with the
 * token of --token-file, else $KAFKA_BROKER_ADMIN_TOKEN, else the file `start` writes (bin/admin-token.ts).
 */
export async function adminClient(values: { readonly [flag: string]: unknown }, io: CliIo): Promise<AdminClient> {
  const flag = (name: string): string | undefined => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  const token = await clientToken(flag('token-file'), io.env);
  return new AdminClient(adminServer(flag('server'), io), token === undefined ? {} : { authorization: `Bearer ${token}` });
}

const refusedToken = (server: string): CliError =>
  new CliError(`the admin API at ${server} refused the token: give --token-file <file> or set ${TOKEN_ENV} (\`kafka-broker start\` keeps its token in ~/.local/state/kafka-broker/admin-token)`);

/** The error for a fetch to the admin API that got no answer. */
export const unreachable = (server: string): CliError =>
  new CliError(`cannot reach the admin API at ${server} (is \`kafka-broker start\` running? --server points elsewhere)`);

/** The name the admin API's index (`GET /`, controller/admin.ts) gives itself. */
const ADMIN_NAME = 'kafka-broker admin';

interface RequestOptions {
  readonly method?: string;
  readonly body?: unknown;
  readonly timeoutMs?: number;
}

/**
 * A client of the admin API. Before its first request it asks the server's index who it is, so
 * that `--server` pointing at the ingress (or anything else) is said in one line instead of
 * surfacing as a puzzling 404.
 */
export class AdminClient {
  private checked: Promise<void> | undefined;

  /** `headers` authenticate (see adminClient). */
  constructor(
    readonly server: string,
    private readonly headers: Readonly<Record<string, string>> = {},
  ) {}

  async get<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return this.request<T>(path, options);
  }

  async request<T>(path: string, options: RequestOptions = {}): Promise<T> {
    await (this.checked ??= this.checkServer());
    const response = await this.fetch(path, options);
    return readAdminResponse<T>(response, this.server);
  }

  /**
   * A long-lived GET (server-sent events): the open response, its body not read; an error answer
   * becomes the CLI error as for `request`. `signal` ends it (Ctrl-C).
   */
  async stream(path: string, signal: AbortSignal): Promise<Response> {
    await (this.checked ??= this.checkServer());
    let response: Response;
    try {
      response = await fetch(`${this.server}${path}`, { signal, headers: { accept: 'text/event-stream', ...this.headers } });
    } catch (error) {
      if (signal.aborted) throw error;
      throw unreachable(this.server);
    }
    if (!response.ok) await readAdminResponse(response, this.server);
    return response;
  }

  private async fetch(path: string, options: RequestOptions): Promise<Response> {
    try {
      return await fetch(`${this.server}${path}`, {
        method: options.method ?? 'GET',
        signal: AbortSignal.timeout(options.timeoutMs ?? 120_000),
        headers: { accept: 'application/json', ...this.headers, ...(options.body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      });
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') throw new CliError(`the admin API at ${this.server} did not answer in time`);
      throw unreachable(this.server);
    }
  }

  private async checkServer(): Promise<void> {
    const response = await this.fetch('/', { timeoutMs: 10_000 });
    const text = await response.text();
    const body = parseJson(text);
    if (isRecord(body) && body['name'] === ADMIN_NAME) return;
    if (response.status === 401) throw refusedToken(this.server);
    throw new CliError(notAdmin(this.server, response, body));
  }
}

/** Says what the server at `server` seems to be, from its answer to `GET /`. */
export function notAdmin(server: string, response: Response, body: unknown): string {
  const hint = `the admin API is \`kafka-broker start\`'s --admin-port (default ${DEFAULT_ADMIN_URL}; start prints KAFKA_BROKER_ADMIN_URL)`;
  // The ingress answers every path it does not serve with NOT_FOUND naming brokers (broker-ingress/routes.ts).
  const projectError = isRecord(body) && typeof body['code'] === 'string' && typeof body['message'] === 'string';
  if (projectError && body['code'] === 'NOT_FOUND' && /\bbroker\b/.test(String(body['message']))) {
    return `${server} is not the admin API; it looks like the ingress (it serves brokers at /<namespace>/<name>); ${hint}`;
  }
  if (projectError) return `${server} is not the admin API; it looks like another kafka-broker server (GET / answered ${response.status} ${String(body['code'])}); ${hint}`;
  return `${server} is not the admin API (GET / answered HTTP ${response.status}${response.headers.get('content-type') ? `, ${response.headers.get('content-type')}` : ''}); ${hint}`;
}

/** The JSON body of an admin API answer; an error answer's `message` (core/errors.ts toHttpBody) becomes the CLI error. */
export async function readAdminResponse<T>(response: Response, server: string): Promise<T> {
  const body = parseJson(await response.text());
  if (body === undefined) throw new CliError(`${server} did not answer like the kafka-broker admin API (HTTP ${response.status})`);
  if (response.status === 401) throw refusedToken(server);
  if (!response.ok) {
    const message = isRecord(body) && typeof body['message'] === 'string' ? body['message'] : `HTTP ${response.status}`;
    throw new CliError(message);
  }
  return body as T;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}


/** `-o json|yaml`: the value as it is. */
export function format(value: unknown, output: 'json' | 'yaml'): string {
  return output === 'json' ? `${JSON.stringify(value, null, 2)}\n` : stringify(value, { lineWidth: 0 });
}

/** The flags every admin-API command takes (with parseCommandLine). */
export const ADMIN_CLIENT_OPTIONS = {
  output: { type: 'string', short: 'o' },
  server: { type: 'string' },
  'token-file': { type: 'string' },
} as const;

export type Output = 'table' | 'wide' | 'json' | 'yaml';

/** `-o`: table (the default), json or yaml, and wide where `allowed` says so. */
export function outputFormat<O extends Output = 'table' | 'json' | 'yaml'>(flag: string | undefined, allowed: readonly O[] = ['table', 'json', 'yaml'] as O[]): O {
  const output = flag ?? 'table';
  if (!(allowed as readonly string[]).includes(output)) {
    throw new CliError(`-o must be ${allowed.slice(0, -1).join(', ')} or ${allowed.at(-1)!}, got "${output}"${didYouMean(output, allowed)}`);
  }
  return output as O;
}

/**
 * `name`, `namespace/name` (as kubectl accepts), with -n: the object's namespace and name.
 * A namespace in both places must agree.
 */
export function objectRef(text: string, namespaceFlag: string | undefined): { namespace: string | undefined; name: string } {
  const slash = text.indexOf('/');
  if (slash < 0) return { namespace: namespaceFlag, name: text };
  const namespace = text.slice(0, slash);
  const name = text.slice(slash + 1);
  if (namespace === '' || name === '' || name.includes('/')) throw new CliError(`"${text}" is not a name or <namespace>/<name>`);
  if (namespaceFlag !== undefined && namespaceFlag !== namespace) throw new CliError(`"${text}" is in namespace "${namespace}", but -n says "${namespaceFlag}"`);
  return { namespace, name };
}
