/**
 * The Kafka adapter against a real secured Kafka (scripts/kafka/kafka.ts, `security: true`): each
 * SASL mechanism and TLS mode carries events, and each refusal (wrong password, unknown CA,
 * expired client or server certificate, no client certificate) is a coded, one-line error within
 * a bounded time, never a hang, and shows in the Broker's status (TopicReady False, with reason
 * KafkaAuthenticationFailed or KafkaTLSFailed).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { controllerConfigFrom } from '../../controller/config.js';
import { createController } from '../../controller/main.js';
import { KafkaEventLog } from '../../core/event-log/kafka/adapter.js';
import { kafkaClientKinds, type KafkaClientKind } from '../../core/event-log/kafka/client-kind.js';
import type { KafkaSecurity } from '../../core/event-log/kafka/security.js';
import { silentLogger } from '../../core/logger.js';
import { mutualTls, saslSsl, scramSsl, startSecuredKafka } from '../helpers/secured-kafka.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';

const kafka = await startSecuredKafka();
const { pki, users } = kafka;

/** Generous for a loaded 2-core machine; a hang would take kafkajs's whole retry budget and more. */
const REFUSAL_WITHIN_MS = 20_000;

/** What `assert.rejects` checks of a refusal: its code and message, on one line, and not to be retried. */
const refusedWith = (code: string, message: RegExp) => (error: { code?: string; message: string; retriable?: boolean }): true => {
  assert.equal(error.code, code);
  assert.match(error.message, message);
  assert.doesNotMatch(error.message, /\n/, 'one line');
  assert.equal(error.retriable, false);
  return true;
};

function open(t: { after(fn: () => Promise<void>): void }, brokers: string, security: KafkaSecurity, client?: KafkaClientKind): KafkaEventLog {
  const log = new KafkaEventLog({ brokers: [brokers], clientId: 'security-test', logger: silentLogger(), security, client });
  t.after(() => log.close());
  return log;
}

describe('a secured Kafka carries events', () => {
  const cases: { name: string; brokers: string; security: KafkaSecurity }[] = [
    { name: 'SASL_SSL, SCRAM-SHA-512', brokers: kafka.saslSsl, security: scramSsl(kafka) },
    { name: 'SASL_SSL, SCRAM-SHA-256', brokers: kafka.saslSsl, security: saslSsl(kafka, { mechanism: 'SCRAM-SHA-256' }) },
    { name: 'SASL_SSL, PLAIN', brokers: kafka.saslSsl, security: saslSsl(kafka, { mechanism: 'PLAIN' }) },
    { name: 'SASL_PLAINTEXT, SCRAM-SHA-512', brokers: kafka.saslPlaintext, security: { protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'SCRAM-SHA-512', ...users.scramSha512 } } },
    { name: 'SSL with a client certificate (mTLS)', brokers: kafka.mtls, security: mutualTls(kafka) },
  ];
  for (const client of kafkaClientKinds) {
    for (const { name, brokers, security } of cases) {
      test(`${name} (${client})`, { timeout: 60_000 }, async (t) => {
        const log = open(t, brokers, security, client);
        const topic = uniqueName('secured');
        await log.ensureTopic(topic, { partitions: 1, replicationFactor: 1 });
        await log.append(topic, [{ value: Buffer.from(`over ${name}`) }]);
        const seen: string[] = [];
        for await (const record of log.read(topic)) seen.push(record.value?.toString('utf8') ?? '');
        assert.deepEqual(seen, [`over ${name}`]);
        // A consumer group over the same connection settings.
        const groupId = uniqueName('secured-group');
        const consumed: string[] = [];
        const consumer = await log.consume({ groupId, topics: [topic], start: 'earliest', onRecord: (r) => { consumed.push(r.value?.toString('utf8') ?? ''); r.done(); } });
        await waitUntil(() => consumed.length > 0, { timeoutMs: 30_000, message: 'consumed' });
        await consumer.close();
        assert.deepEqual(consumed, [`over ${name}`]);
        await log.deleteGroup(groupId);
        await log.deleteTopic(topic);
      });
    }
  }
});

describe('a refused credential or certificate is a clear error, soon', () => {
  const cases: { name: string; brokers: string; security: KafkaSecurity; code: string; message: RegExp }[] = [
    {
      name: 'wrong password',
      brokers: kafka.saslSsl,
      security: saslSsl(kafka, { password: 'not-the-password' }),
      code: 'KAFKA_AUTH_FAILED',
      message: /SASL authentication failed \(check user, password and sasl\.mechanism\)/,
    },
    {
      name: 'a user of another mechanism',
      brokers: kafka.saslSsl,
      security: { protocol: 'SASL_SSL', sasl: { mechanism: 'SCRAM-SHA-512', ...users.scramSha256 }, tls: { ca: pki.ca } },
      code: 'KAFKA_AUTH_FAILED',
      message: /SASL authentication failed/,
    },
    {
      name: "the broker's CA is not trusted",
      brokers: kafka.saslSsl,
      security: saslSsl(kafka, { ca: pki.otherCa }),
      code: 'KAFKA_TLS_FAILED',
      message: /not signed by a trusted CA \(check ca\.crt\)/,
    },
    {
      name: "the broker's certificate has expired",
      brokers: kafka.expiredServer,
      security: { protocol: 'SSL', tls: { ca: pki.ca } },
      code: 'KAFKA_TLS_FAILED',
      message: /the broker's certificate has expired \[CERT_HAS_EXPIRED\]/,
    },
    {
      name: 'the client certificate has expired',
      brokers: kafka.mtls,
      security: { protocol: 'SSL', tls: { ca: pki.ca, cert: pki.expiredClient.cert, key: pki.expiredClient.key } },
      code: 'KAFKA_TLS_FAILED',
      message: /the broker refused the client certificate/,
    },
    {
      name: 'no client certificate where one is required',
      brokers: kafka.mtls,
      security: { protocol: 'SSL', tls: { ca: pki.ca } },
      code: 'KAFKA_TLS_FAILED',
      message: /TLS failed/,
    },
  ];
  for (const { name, brokers, security, code, message } of cases) {
    test(name, { timeout: 60_000 }, async (t) => {
      const log = open(t, brokers, security);
      const started = Date.now();
      await assert.rejects(log.ensureTopic(uniqueName('refused'), { partitions: 1, replicationFactor: 1 }), refusedWith(code, message));
      assert.ok(Date.now() - started < REFUSAL_WITHIN_MS, `refused within ${REFUSAL_WITHIN_MS} ms (took ${Date.now() - started})`);
      // The health probe says the same, within its own bound.
      const problem = await log.connectionProblem();
      assert.equal(problem?.code, code);
    });
  }

  // Appends go through the chosen client's own producer connection (the admin, kafkajs, is not
  // asked first): @platformatic/kafka's refusals give the same coded errors.
  for (const { name, brokers, security, code, message } of cases) {
    test(`${name}: an append on @platformatic/kafka`, { timeout: 60_000 }, async (t) => {
      const log = open(t, brokers, security, 'platformatic');
      const started = Date.now();
      await assert.rejects(log.append(uniqueName('refused'), [{ value: Buffer.from('x') }]), refusedWith(code, message));
      assert.ok(Date.now() - started < REFUSAL_WITHIN_MS, `refused within ${REFUSAL_WITHIN_MS} ms (took ${Date.now() - started})`);
    });
  }

  test('the secret never appears in the error', { timeout: 60_000 }, async (t) => {
    const password = 'very-secret-password-42';
    const log = open(t, kafka.saslSsl, saslSsl(kafka, { mechanism: 'PLAIN', password }));
    const problem = await log.connectionProblem(10_000);
    assert.equal(problem?.code, 'KAFKA_AUTH_FAILED');
    assert.doesNotMatch(`${problem?.message} ${JSON.stringify(problem?.details)}`, new RegExp(password));
  });
});

describe("a refusal shows in the Broker's status", () => {
  const cases = [
    {
      name: 'wrong password',
      security: (): KafkaSecurity => saslSsl(kafka, { password: 'rotated-away' }),
      brokers: (): string => kafka.saslSsl,
      reason: 'KafkaAuthenticationFailed',
      message: /SASL authentication failed/,
    },
    {
      name: 'expired client certificate',
      security: (): KafkaSecurity => ({ protocol: 'SSL', tls: { ca: pki.ca, cert: pki.expiredClient.cert, key: pki.expiredClient.key } }),
      brokers: (): string => kafka.mtls,
      reason: 'KafkaTLSFailed',
      message: /TLS failed: the broker refused the client certificate/,
    },
  ];
  for (const { name, security, brokers, reason, message } of cases) {
    test(name, { timeout: 60_000 }, async (t) => {
      const dir = await mkdtemp(join(tmpdir(), 'kb-secured-status-'));
      t.after(() => rm(dir, { recursive: true, force: true }));
      const ns = uniqueName('status');
      await writeFile(join(dir, 'broker.yaml'), stringify({
        apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', metadata: { name: 'default', namespace: ns, annotations: { 'eventing.knative.dev/broker.class': 'Kafka' } }, spec: {},
      }));
      const log = open(t, brokers(), security());
      const config = controllerConfigFrom({ manifestsDir: dir, ingressUrl: 'http://127.0.0.1:1', kafkaBootstrapServers: [brokers()] }, {});
      const controller = createController({ config, log, publish: () => undefined, logger: silentLogger() });
      t.after(() => controller.close());
      const started = Date.now();
      await controller.start();
      const condition = await waitUntil(() => {
        const broker = controller.reconciler.objects().find((o) => o.kind === 'Broker' && o.metadata.namespace === ns);
        const conditions = (broker?.status as { conditions?: { type: string; status: string; reason?: string; message?: string }[] } | undefined)?.conditions;
        return conditions?.find((c) => c.type === 'TopicReady' && c.status === 'False');
      }, { timeoutMs: REFUSAL_WITHIN_MS, message: 'TopicReady False' });
      assert.equal(condition.reason, reason);
      assert.match(condition.message ?? '', message);
      assert.doesNotMatch(condition.message ?? '', /\n/);
      assert.ok(Date.now() - started < REFUSAL_WITHIN_MS);
    });
  }
});
