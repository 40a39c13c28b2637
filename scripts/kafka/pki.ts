// Key material for the secured Kafka of the tests, made fresh for every start with the openssl
// command line (Node's crypto makes keys but cannot sign certificates). P-256 keys, PKCS#8 PEM:
// what Kafka 4's PEM key stores read, and fast to make.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A certificate and its private key, as PEM text and as files. */
export interface PemPair {
  readonly cert: string;
  readonly key: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface KafkaPki {
  /** The CA the broker's certificates chain to; clients trust it. It also signs the client certificates. */
  readonly ca: string;
  readonly caFile: string;
  /** Another CA, trusted by no one: a client that trusts only this one must fail TLS verification. */
  readonly otherCa: string;
  /** The broker's certificate, for 127.0.0.1 and localhost. */
  readonly server: PemPair;
  /** A certificate for the same names whose validity ended yesterday (served on a listener of its own). */
  readonly expiredServer: PemPair;
  /** A client certificate (CN=kafka-broker-client) for mTLS. */
  readonly client: PemPair;
  /** A client certificate from the same CA whose validity ended yesterday. */
  readonly expiredClient: PemPair;
}

// Our own config, so that neither the machine's openssl.cnf nor its defaults shape the certificates.
const OPENSSL_CONFIG = `
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
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`;

/** Long enough for any test run or development session; the files die with their temp dir. */
const VALID_DAYS = 30;

/** Writes two CAs and the broker's and clients' certificates (valid and expired) into `dir`. */
export async function generateKafkaPki(dir: string): Promise<KafkaPki> {
  const configFile = join(dir, 'openssl.cnf');
  await writeFile(configFile, OPENSSL_CONFIG);
  const selfSigned = async (name: string, subject: string): Promise<{ certFile: string; keyFile: string }> => {
    const files = { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
    await openssl(['req', '-x509', '-config', configFile, '-extensions', 'ca', ...newP256Key(files.keyFile), '-subj', subject, '-days', String(VALID_DAYS), '-out', files.certFile]);
    return files;
  };
  const [ca, other] = await Promise.all([selfSigned('ca', '/CN=kafka-broker-test-ca'), selfSigned('other-ca', '/CN=kafka-broker-unknown-ca')]);

  // A request, then `x509 -req`: unlike `req -x509`, it takes a negative validity, which is how
  // an already expired certificate is made without a clock to turn back.
  const leaf = async (name: string, section: 'server' | 'client', subject: string, days: number): Promise<PemPair> => {
    const certFile = join(dir, `${name}.crt`);
    const keyFile = join(dir, `${name}.key`);
    const csrFile = join(dir, `${name}.csr`);
    await openssl(['req', '-new', '-config', configFile, ...newP256Key(keyFile), '-subj', subject, '-out', csrFile]);
    await openssl([
      'x509', '-req', '-in', csrFile, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial',
      '-extfile', configFile, '-extensions', section, '-days', String(days), '-out', certFile,
    ]);
    return { cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8'), certFile, keyFile };
  };
  // One at a time: -CAcreateserial writes the CA's serial file.
  const server = await leaf('server', 'server', '/CN=localhost', VALID_DAYS);
  const expiredServer = await leaf('expired-server', 'server', '/CN=localhost', -1);
  const client = await leaf('client', 'client', '/CN=kafka-broker-client', VALID_DAYS);
  const expiredClient = await leaf('expired-client', 'client', '/CN=kafka-broker-expired-client', -1);
  return {
    ca: await readFile(ca.certFile, 'utf8'),
    caFile: ca.certFile,
    otherCa: await readFile(other.certFile, 'utf8'),
    server,
    expiredServer,
    client,
    expiredClient,
  };
}

function newP256Key(keyFile: string): string[] {
  return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile];
}

async function openssl(args: string[]): Promise<void> {
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
