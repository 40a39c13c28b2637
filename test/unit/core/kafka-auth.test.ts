import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { kafkajsSecurity, securityFailure } from '../../../core/event-log/kafka/security.js';
import { kafkaAuthFromEnv, parseKafkaAuth } from '../../../core/kafka-auth.js';
import { generateKafkaPki, type KafkaPki } from '../../../scripts/kafka/pki.js';

let dir: string;
let pki: KafkaPki;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kafka-auth-test-'));
  pki = await generateKafkaPki(dir);
});
after(() => rm(dir, { recursive: true, force: true }));

const where = 'Secret knative-eventing/kafka-auth';
const parse = (entries: Record<string, string>) => parseKafkaAuth(new Map(Object.entries(entries)), where);

describe('parseKafkaAuth reads Knative Kafka auth Secret keys', () => {
  test('accepted settings', () => {
    const table: { name: string; data: () => Record<string, string>; want: () => unknown }[] = [
      { name: 'empty: PLAINTEXT', data: () => ({}), want: () => ({ protocol: 'PLAINTEXT' }) },
      { name: 'protocol PLAINTEXT', data: () => ({ protocol: 'PLAINTEXT' }), want: () => ({ protocol: 'PLAINTEXT' }) },
      {
        name: 'SASL_SSL with SCRAM and a CA',
        data: () => ({ protocol: 'SASL_SSL', 'sasl.mechanism': 'SCRAM-SHA-512', user: 'alice', password: 'pw\n', 'ca.crt': pki.ca }),
        want: () => ({ protocol: 'SASL_SSL', sasl: { mechanism: 'SCRAM-SHA-512', username: 'alice', password: 'pw' }, tls: { ca: pki.ca } }),
      },
      {
        name: 'SASL_SSL without a CA: the public CAs',
        data: () => ({ protocol: 'sasl_ssl', 'sasl.mechanism': 'scram-sha-256', user: 'alice', password: 'pw' }),
        want: () => ({ protocol: 'SASL_SSL', sasl: { mechanism: 'SCRAM-SHA-256', username: 'alice', password: 'pw' }, tls: {} }),
      },
      {
        name: 'SASL_PLAINTEXT, mechanism defaults to PLAIN',
        data: () => ({ protocol: 'SASL_PLAINTEXT', user: 'bob', password: 'pw' }),
        want: () => ({ protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'PLAIN', username: 'bob', password: 'pw' } }),
      },
      {
        name: 'SSL with a client certificate',
        data: () => ({ protocol: 'SSL', 'ca.crt': pki.ca, 'user.crt': pki.client.cert, 'user.key': pki.client.key }),
        want: () => ({ protocol: 'SSL', tls: { ca: pki.ca, cert: pki.client.cert, key: pki.client.key } }),
      },
      {
        name: 'legacy: tls.enabled with saslType',
        data: () => ({ 'tls.enabled': 'true', saslType: 'SCRAM-SHA-512', user: 'carol', password: 'pw' }),
        want: () => ({ protocol: 'SASL_SSL', sasl: { mechanism: 'SCRAM-SHA-512', username: 'carol', password: 'pw' }, tls: {} }),
      },
      {
        name: 'legacy: only certificates means SSL',
        data: () => ({ 'ca.crt': pki.ca, 'user.crt': pki.client.cert, 'user.key': pki.client.key }),
        want: () => ({ protocol: 'SSL', tls: { ca: pki.ca, cert: pki.client.cert, key: pki.client.key } }),
      },
      {
        name: 'legacy: user and password without TLS',
        data: () => ({ user: 'dave', password: 'pw' }),
        want: () => ({ protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'PLAIN', username: 'dave', password: 'pw' } }),
      },
    ];
    for (const { name, data, want } of table) {
      const result = parse(data());
      assert.deepEqual(result, { ok: true, security: want() }, name);
    }
  });

  test('refused settings, each one line naming the Secret and the key', () => {
    const table: { name: string; data: () => Record<string, string>; message: RegExp }[] = [
      { name: 'unknown protocol', data: () => ({ protocol: 'TLS' }), message: /protocol must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL, found "TLS"/ },
      { name: 'unsupported mechanism', data: () => ({ protocol: 'SASL_SSL', 'sasl.mechanism': 'GSSAPI', user: 'a', password: 'b' }), message: /sasl\.mechanism must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, found "GSSAPI"/ },
      { name: 'no user', data: () => ({ protocol: 'SASL_SSL', password: 'b' }), message: /user is required with protocol SASL_SSL/ },
      { name: 'no password', data: () => ({ protocol: 'SASL_PLAINTEXT', user: 'a' }), message: /password is required with protocol SASL_PLAINTEXT/ },
      { name: 'a CA without TLS', data: () => ({ protocol: 'SASL_PLAINTEXT', user: 'a', password: 'b', 'ca.crt': pki.ca }), message: /ca\.crt is set but protocol SASL_PLAINTEXT does not use TLS/ },
      { name: 'a mechanism without SASL', data: () => ({ protocol: 'SSL', 'sasl.mechanism': 'PLAIN' }), message: /sasl\.mechanism is set but protocol SSL does not use SASL/ },
      { name: 'a certificate without its key', data: () => ({ protocol: 'SSL', 'user.crt': pki.client.cert }), message: /user\.crt and user\.key go together: user\.key is missing/ },
      { name: 'a CA that is not PEM', data: () => ({ protocol: 'SSL', 'ca.crt': 'not a certificate' }), message: /ca\.crt is not a PEM certificate/ },
      { name: 'a key that is not a key', data: () => ({ protocol: 'SSL', 'user.crt': pki.client.cert, 'user.key': pki.client.cert }), message: /user\.key is not a PEM private key/ },
    ];
    for (const { name, data, message } of table) {
      const result = parse(data());
      assert.equal(result.ok, false, name);
      if (result.ok) continue;
      assert.match(result.message, message, name);
      assert.ok(result.message.startsWith(`${where}: `), name);
      assert.doesNotMatch(result.message, /\n/, name);
    }
  });

  test('a key named like an Object.prototype member is just an unknown key', () => {
    const data = new Map([['constructor', 'x'], ['__proto__', 'y'], ['toString', 'z'], ['hasOwnProperty', 'w']]);
    assert.deepEqual(parseKafkaAuth(data, where), { ok: true, security: { protocol: 'PLAINTEXT' } });
  });
});

describe('kafkaAuthFromEnv: standalone mode', () => {
  test('nothing set is PLAINTEXT', async () => {
    assert.deepEqual(await kafkaAuthFromEnv({}), { security: { protocol: 'PLAINTEXT' }, from: 'default' });
  });

  test('a folder of key files (a mounted Secret)', async () => {
    const secret = join(dir, 'secret');
    await import('node:fs/promises').then((fs) => fs.mkdir(secret));
    await writeFile(join(secret, 'protocol'), 'SASL_SSL');
    await writeFile(join(secret, 'sasl.mechanism'), 'SCRAM-SHA-512');
    await writeFile(join(secret, 'user'), 'alice');
    await writeFile(join(secret, 'password'), 's3cret\n');
    await writeFile(join(secret, 'ca.crt'), pki.ca);
    const want = { protocol: 'SASL_SSL', sasl: { mechanism: 'SCRAM-SHA-512', username: 'alice', password: 's3cret' }, tls: { ca: pki.ca } };
    assert.deepEqual((await kafkaAuthFromEnv({ KAFKA_AUTH_DIR: secret })).security, want);
    assert.deepEqual((await kafkaAuthFromEnv({}, secret)).security, want);
  });

  test('variables one by one, secrets from files', async () => {
    const passwordFile = join(dir, 'password.txt');
    await writeFile(passwordFile, 'from-a-file\n');
    const { security } = await kafkaAuthFromEnv({
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256', KAFKA_SASL_USER: 'bob',
      KAFKA_SASL_PASSWORD_FILE: passwordFile, KAFKA_TLS_CA_FILE: pki.caFile,
    });
    assert.deepEqual(security, { protocol: 'SASL_SSL', sasl: { mechanism: 'SCRAM-SHA-256', username: 'bob', password: 'from-a-file' }, tls: { ca: pki.ca } });
  });

  test('mistakes are one-line errors', async () => {
    await assert.rejects(kafkaAuthFromEnv({ KAFKA_AUTH_DIR: dir, KAFKA_SASL_USER: 'a' }), /give either KAFKA_AUTH_DIR or KAFKA_SASL_USER, not both/);
    await assert.rejects(kafkaAuthFromEnv({ KAFKA_SASL_USER: 'a' }), /KAFKA_SECURITY_PROTOCOL is required/);
    await assert.rejects(kafkaAuthFromEnv({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_USER: 'a', KAFKA_SASL_PASSWORD_FILE: join(dir, 'nope') }), /KAFKA_SASL_PASSWORD_FILE: cannot read .*nope: ENOENT/);
    await assert.rejects(kafkaAuthFromEnv({}, join(dir, 'empty-or-missing')), /holds none of the Kafka auth keys/);
    await assert.rejects(kafkaAuthFromEnv({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL' }), /user is required with protocol SASL_SSL/);
  });
});

describe('kafkajs settings and failures', () => {
  test('each protocol maps to kafkajs ssl/sasl, server certificates always verified', () => {
    assert.deepEqual(kafkajsSecurity({ protocol: 'PLAINTEXT' }), {});
    assert.deepEqual(kafkajsSecurity({ protocol: 'SSL', tls: {} }), { ssl: { rejectUnauthorized: true } });
    assert.deepEqual(kafkajsSecurity({ protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'SCRAM-SHA-256', username: 'u', password: 'p' } }), {
      sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'p' },
    });
    assert.deepEqual(kafkajsSecurity({ protocol: 'SASL_SSL', sasl: { mechanism: 'PLAIN', username: 'u', password: 'p' }, tls: { ca: 'CA' } }), {
      ssl: { rejectUnauthorized: true, ca: 'CA' }, sasl: { mechanism: 'plain', username: 'u', password: 'p' },
    });
  });

  test('failures are read from error classes and codes, through wrappers', () => {
    const table: { error: unknown; want: string | undefined }[] = [
      { error: Object.assign(new Error('x'), { name: 'KafkaJSSASLAuthenticationError' }), want: 'authentication' },
      { error: { name: 'KafkaJSNumberOfRetriesExceeded', cause: { name: 'KafkaJSConnectionError', code: 'CERT_HAS_EXPIRED' } }, want: 'tls' },
      { error: { name: 'KafkaJSConnectionError', code: 'ERR_SSL_SOMETHING_NEW' }, want: 'tls' },
      { error: { name: 'KafkaJSProtocolError', type: 'UNSUPPORTED_SASL_MECHANISM' }, want: 'authentication' },
      { error: { name: 'KafkaJSConnectionError', code: 'ECONNREFUSED' }, want: undefined },
      { error: new Error('SASL authentication failed'), want: undefined },
    ];
    for (const { error, want } of table) assert.equal(securityFailure(error)?.kind, want, JSON.stringify(error));
  });
});
