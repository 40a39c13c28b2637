// The certificates and keys a throw-away etcd + kube-apiserver pair needs, made fresh for every
// start with the openssl command line (Node's crypto makes keys but cannot sign certificates).
// P-256 keys: a whole set takes a few milliseconds, where RSA would take noticeably longer.
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { newP256Key, openssl, VALID_DAYS, writeOpensslConfig } from '../pki/openssl.js';

export interface KeyPairFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface KubePki {
  /** The one CA that signs every certificate below; clients trust it to reach the API server. */
  readonly caFile: string;
  readonly caKeyFile: string;
  /** etcd's serving certificate; it also carries clientAuth because etcd's gRPC gateway dials etcd itself with it. */
  readonly etcdServer: KeyPairFiles;
  /** The API server's identity towards etcd (etcd runs with --client-cert-auth). */
  readonly apiServerEtcdClient: KeyPairFiles;
  /** The API server's serving certificate, for 127.0.0.1 and localhost. */
  readonly apiServer: KeyPairFiles;
  /** Signs and verifies service-account tokens (--service-account-signing-key-file / --service-account-key-file). */
  readonly serviceAccountKeyFile: string;
  readonly serviceAccountPublicKeyFile: string;
}


/** Writes a fresh CA, the serving and client certificates, and the service-account key pair into `dir`. */
export async function generateKubePki(dir: string): Promise<KubePki> {
  const configFile = await writeOpensslConfig(dir, { serverAlsoClient: true });
  const caFile = join(dir, 'ca.crt');
  const caKeyFile = join(dir, 'ca.key');
  await openssl(['req', '-x509', '-config', configFile, '-extensions', 'ca', ...newP256Key(caKeyFile), '-subj', '/CN=kafka-broker-test-ca', '-days', String(VALID_DAYS), '-out', caFile]);

  const leaf = async (name: string, section: 'server' | 'client', subject: string): Promise<KeyPairFiles> => {
    const pair = { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
    await openssl([
      'req', '-x509', '-config', configFile, '-extensions', section, ...newP256Key(pair.keyFile),
      '-CA', caFile, '-CAkey', caKeyFile, '-subj', subject, '-days', String(VALID_DAYS), '-out', pair.certFile,
    ]);
    return pair;
  };
  const [etcdServer, apiServerEtcdClient, apiServer] = await Promise.all([
    leaf('etcd-server', 'server', '/CN=etcd'),
    leaf('apiserver-etcd-client', 'client', '/CN=kube-apiserver-etcd-client'),
    leaf('apiserver', 'server', '/CN=kube-apiserver'),
  ]);

  const serviceAccountKeyFile = join(dir, 'service-account.key');
  const serviceAccountPublicKeyFile = join(dir, 'service-account.pub');
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await writeFile(serviceAccountKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await writeFile(serviceAccountPublicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }));

  return { caFile, caKeyFile, etcdServer, apiServerEtcdClient, apiServer, serviceAccountKeyFile, serviceAccountPublicKeyFile };
}
