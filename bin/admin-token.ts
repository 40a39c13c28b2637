/**
 * The admin token of standalone mode (`kafka-broker start`), and where the CLI finds it.
 *
 * `start` takes its token from --admin-token-file, else $KAFKA_BROKER_ADMIN_TOKEN, else the
 * default file `$XDG_STATE_HOME/kafka-broker/admin-token` (`~/.local/state/...`), which it creates
 * on first use with 256 random bits, readable by its owner only (0600, in a 0700 folder). `get` and
 * `dead-letters` read the same places (--token-file instead of --admin-token-file). So nothing is
 * to be set up, the token never shows in `ps` or shell history, and the boundary is the user
 * account: another local user can reach a loopback port, but cannot read the file. The file is
 * kept across restarts, so a CLI in another terminal keeps working; delete it to change the token.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { CliError } from './cli.js';

type Env = Readonly<Record<string, string | undefined>>;

export const TOKEN_ENV = 'KAFKA_BROKER_ADMIN_TOKEN';

/** `$XDG_STATE_HOME/kafka-broker`, else under `~/.local/state`: the token, the record of rewinds. */
export function stateDir(env: Env): string {
  const state = env['XDG_STATE_HOME'] || path.join(env['HOME'] || homedir(), '.local', 'state');
  return path.join(state, 'kafka-broker');
}

/** `$XDG_STATE_HOME/kafka-broker/admin-token`, else under `~/.local/state`. */
export function defaultTokenFile(env: Env): string {
  return path.join(stateDir(env), 'admin-token');
}

/** A token file's content (trimmed); a missing, empty or too widely readable file is a CliError. */
export async function readTokenFile(file: string, flag: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(`${flag}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const token = text.trim();
  if (token.length < 16) throw new CliError(`${flag}: ${file} holds no token of at least 16 characters`);
  return token;
}

/** The token `start` uses: the flag's file, the environment, or the default file (created if absent). */
export async function serverToken(flag: string | undefined, env: Env): Promise<{ token: string; from: string }> {
  if (flag !== undefined) return { token: await readTokenFile(flag, '--admin-token-file'), from: flag };
  const fromEnv = env[TOKEN_ENV]?.trim();
  if (fromEnv) {
    if (fromEnv.length < 16) throw new CliError(`${TOKEN_ENV} must be at least 16 characters`);
    return { token: fromEnv, from: `$${TOKEN_ENV}` };
  }
  const file = defaultTokenFile(env);
  return { token: await ensureTokenFile(file), from: file };
}

/** The token the CLI sends: --token-file, else the environment, else the default file if there is one. */
export async function clientToken(flag: string | undefined, env: Env): Promise<string | undefined> {
  if (flag !== undefined) return readTokenFile(flag, '--token-file');
  const fromEnv = env[TOKEN_ENV]?.trim();
  if (fromEnv) return fromEnv;
  const file = defaultTokenFile(env);
  try {
    return (await readFile(file, 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads the token file, or creates it with a random token. Created beside itself and linked into
 * place, so two `start`s at once agree on one token and nobody reads a half-written file.
 */
export async function ensureTokenFile(file: string): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    const info = await stat(file);
    // Like ssh with its keys: a token others can read is no secret.
    if ((info.mode & 0o077) !== 0) throw new CliError(`${file} is readable by other users; chmod 600 it (or delete it for a new token)`);
    return await readTokenFile(file, 'the admin token file');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(temporary, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
  return readTokenFile(file, 'the admin token file');
}
