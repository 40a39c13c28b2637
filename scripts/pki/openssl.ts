// What the test PKIs (scripts/kafka/pki.ts, scripts/kube/pki.ts) share: the openssl command line
// (Node's crypto makes keys but cannot sign certificates), P-256 keys (a whole set takes a few
// milliseconds, where RSA would take noticeably longer), and our own openssl config, so that
// neither the machine's openssl.cnf nor its defaults shape the certificates.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Long enough for any test run or development session; the files die with their temp dir. */
export const VALID_DAYS = 30;

/**
 * Writes the config into `dir` and returns its path. Sections: `ca`, `server` (for 127.0.0.1 and
 * localhost; `serverAlsoClient` when the same certificate dials out too, as etcd's does) and `client`.
 */
export async function writeOpensslConfig(dir: string, options: { serverAlsoClient?: boolean } = {}): Promise<string> {
  const file = join(dir, 'openssl.cnf');
  await writeFile(file, `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = ${options.serverAlsoClient === true ? 'serverAuth,clientAuth' : 'serverAuth'}
subjectAltName = IP:127.0.0.1,DNS:localhost
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`);
  return file;
}

/** The `req` arguments that make a new unencrypted P-256 key (PKCS#8 PEM) into `keyFile`. */
export function newP256Key(keyFile: string): string[] {
  return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile];
}

/** Runs openssl; a failure is one line saying what openssl said (or that it is not installed). */
export async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT'
      ? 'the openssl command is not installed (Debian/Ubuntu: apt-get install openssl)'
      : (stderr ?? String(error));
    throw new Error(`openssl ${args[0]} failed: ${reason}`, { cause: error });
  }
}
