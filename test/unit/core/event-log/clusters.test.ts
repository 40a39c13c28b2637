import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ClusterRef } from '../../../../core/contract/types.js';
import { isBrokerError } from '../../../../core/errors.js';
import { clusterKey, EventLogClusters, type OpenClusterLog } from '../../../../core/event-log/clusters.js';
import type { KafkaSecurity } from '../../../../core/event-log/kafka/security.js';
import { MemoryEventLog } from '../../../../core/event-log/memory.js';
import { kafkaAuthFromRoot } from '../../../../core/kafka-auth.js';

/** Memory logs stand in for Kafka clients: what is checked is which log serves which cluster, and when it is closed. */
function registry(credentials?: (secret: { namespace: string; name: string }) => KafkaSecurity) {
  const base = new MemoryEventLog();
  const opened: { ref: ClusterRef; security: KafkaSecurity; log: MemoryEventLog; closed: boolean }[] = [];
  const open: OpenClusterLog = (ref, security) => {
    const log = new MemoryEventLog();
    const entry = { ref, security, log, closed: false };
    const close = log.close.bind(log);
    log.close = async () => {
      entry.closed = true;
      await close();
    };
    opened.push(entry);
    return log;
  };
  return { base, opened, clusters: new EventLogClusters(base, open, credentials) };
}

const a: ClusterRef = { bootstrapServers: ['a:9092'], authSecret: null };
const aWithSecret: ClusterRef = { bootstrapServers: ['a:9092'], authSecret: { namespace: 'ns', name: 'kafka-auth' } };
const b: ClusterRef = { bootstrapServers: ['b:9092', 'c:9092'], authSecret: null };
const scram = (password: string): KafkaSecurity => ({ protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'SCRAM-SHA-512', username: 'u', password } });

describe('EventLogClusters', () => {
  test('a resource without a cluster uses the base log, and nothing is opened', () => {
    const { base, opened, clusters } = registry();
    assert.equal(clusters.get(undefined), base);
    assert.equal(clusters.lazy(undefined), base);
    assert.equal(opened.length, 0);
    assert.equal(clusters.size, 0);
  });

  test('one client per cluster and credential set, opened on first use', () => {
    const { opened, clusters } = registry(() => scram('pw'));
    const first = clusters.get(a);
    assert.equal(clusters.get({ bootstrapServers: ['a:9092'], authSecret: null }), first);
    assert.notEqual(clusters.get(aWithSecret), first, 'other credentials, other client');
    assert.notEqual(clusters.get(b), first);
    assert.equal(opened.length, 3);
    assert.deepEqual(opened.map((o) => o.security.protocol), ['PLAINTEXT', 'SASL_PLAINTEXT', 'PLAINTEXT']);
    assert.deepEqual(opened.map((o) => o.ref.bootstrapServers), [['a:9092'], ['a:9092'], ['b:9092', 'c:9092']]);
  });

  test('retain closes the clients no resource names, and a later use opens a new one', async () => {
    const { opened, clusters } = registry();
    clusters.get(a);
    clusters.get(b);
    await clusters.retain([b, undefined]);
    assert.deepEqual(opened.map((o) => o.closed), [true, false]);
    assert.equal(clusters.size, 1);
    clusters.get(a);
    assert.equal(opened.length, 3);
    await clusters.close();
    assert.deepEqual(opened.map((o) => o.closed), [true, true, true]);
  });

  test('getWith replaces the client when the credentials changed (a rotated Secret), keeps it otherwise', async () => {
    const { opened, clusters } = registry();
    const first = clusters.getWith(aWithSecret, scram('one'));
    assert.equal(clusters.getWith(aWithSecret, scram('one')), first);
    const second = clusters.getWith(aWithSecret, scram('two'));
    assert.notEqual(second, first);
    await clusters.retain([aWithSecret]);
    assert.deepEqual(opened.map((o) => o.closed), [true, false]);
  });

  test('credentials named without a place to read them: KAFKA_AUTH_INVALID, nothing opened', () => {
    const { opened, clusters } = registry();
    assert.throws(() => clusters.get(aWithSecret), (error: unknown) => isBrokerError(error) && error.code === 'KAFKA_AUTH_INVALID' && /ns\/kafka-auth.*--kafka-auth-root/.test(error.message));
    assert.equal(opened.length, 0);
  });

  test('the in-memory log cannot open a cluster: CONFIG_INVALID', () => {
    const clusters = new EventLogClusters(new MemoryEventLog());
    assert.throws(() => clusters.get(a), (error: unknown) => isBrokerError(error) && error.code === 'CONFIG_INVALID');
  });

  test('lazy looks the log up on each call: a failure fails the call, not the caller', async () => {
    let fail = true;
    const { clusters } = registry(() => {
      if (fail) throw new Error('no files yet');
      return scram('pw');
    });
    const lazy = clusters.lazy(aWithSecret);
    await assert.rejects(lazy.ensureTopic('t', { partitions: 1, replicationFactor: 1 }), /no files yet/);
    fail = false;
    await lazy.ensureTopic('t', { partitions: 2, replicationFactor: 1 });
    assert.deepEqual(await clusters.get(aWithSecret).describeTopic('t'), { name: 't', partitions: 2 });
  });

  test('clusterKey tells servers and Secrets apart', () => {
    const keys = [a, aWithSecret, b, { bootstrapServers: ['a:9092'], authSecret: { namespace: 'other', name: 'kafka-auth' } }].map(clusterKey);
    assert.equal(new Set(keys).size, keys.length);
  });
});

describe('kafkaAuthFromRoot reads <root>/<namespace>/<name>/<key>', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'kafka-auth-root-'));
    await mkdir(join(root, 'team-a', 'kafka-auth'), { recursive: true });
    await writeFile(join(root, 'team-a', 'kafka-auth', 'protocol'), 'SASL_PLAINTEXT');
    await writeFile(join(root, 'team-a', 'kafka-auth', 'sasl.mechanism'), 'SCRAM-SHA-256');
    await writeFile(join(root, 'team-a', 'kafka-auth', 'user'), 'alice');
    await writeFile(join(root, 'team-a', 'kafka-auth', 'password'), 'secret\n');
    await mkdir(join(root, 'team-a', 'no-password'), { recursive: true });
    await writeFile(join(root, 'team-a', 'no-password', 'protocol'), 'SASL_SSL');
    await writeFile(join(root, 'team-a', 'no-password', 'user'), 'alice');
  });
  after(() => rm(root, { recursive: true, force: true }));

  test('a Secret folder', () => {
    assert.deepEqual(kafkaAuthFromRoot(root, { namespace: 'team-a', name: 'kafka-auth' }), {
      protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'SCRAM-SHA-256', username: 'alice', password: 'secret' },
    });
  });

  test('missing or bad: KAFKA_AUTH_INVALID in one line naming the folder', () => {
    const cases: { name: string; secret: { namespace: string; name: string }; message: RegExp }[] = [
      { name: 'no folder', secret: { namespace: 'team-a', name: 'absent' }, message: /team-a\/absent holds none of the auth keys/ },
      { name: 'a key missing', secret: { namespace: 'team-a', name: 'no-password' }, message: /team-a\/no-password: password is required with protocol SASL_SSL/ },
    ];
    for (const { name, secret, message } of cases) {
      assert.throws(() => kafkaAuthFromRoot(root, secret), (error: unknown) => isBrokerError(error) && error.code === 'KAFKA_AUTH_INVALID' && message.test(error.message) && !error.message.includes('\n'), name);
    }
  });
});
