// Key material for the secured Kafka of the tests, made fresh for every start with the openssl
// command line (Node's crypto makes keys but cannot sign certificates). P-256 keys, PKCS#8 PEM:
// what Kafka 4's PEM key stores read, and fast to make.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { newP256Key, openssl, VALID_DAYS, writeOpensslConfig } from '../pki/openssl.js';

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


/** Writes two CAs and the broker's and clients' certificates (valid and expired) into `dir`. */
export async function generateKafkaPki(dir: string): Promise<KafkaPki> {
  const configFile = await writeOpensslConfig(dir);
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
