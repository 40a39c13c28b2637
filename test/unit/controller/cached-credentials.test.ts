import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cachedCredentials } from '../../../controller/cluster-logs.js';
import { BrokerError } from '../../../core/errors.js';
import type { KafkaSecurity } from '../../../core/event-log/kafka/security.js';

/** Secrets named for Kafka credentials: read once per TTL, failures included, then read again (rotation). */

test('a Secret is read once within the TTL, per name, and again after it', async () => {
  let clock = 0;
  const reads: string[] = [];
  let password = 'one';
  const read = cachedCredentials(async (secret) => {
    reads.push(`${secret.namespace}/${secret.name}`);
    return { protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'PLAIN', username: 'u', password } } as KafkaSecurity;
  }, 5000, () => clock);
  const a = { namespace: 'ns', name: 'a' };
  await Promise.all([read(a), read(a), read(a)]);
  await read({ namespace: 'ns', name: 'b' });
  assert.deepEqual(reads, ['ns/a', 'ns/b']);
  password = 'two';
  clock = 4999;
  assert.equal(((await read(a)) as { sasl: { password: string } }).sasl.password, 'one');
  clock = 5000;
  assert.equal(((await read(a)) as { sasl: { password: string } }).sasl.password, 'two', 'rotated credentials after the TTL');
  assert.deepEqual(reads, ['ns/a', 'ns/b', 'ns/a']);
});

test('a missing Secret is an error for the TTL, then read again (created meanwhile)', async () => {
  let clock = 0;
  let exists = false;
  let reads = 0;
  const read = cachedCredentials(async () => {
    reads++;
    if (!exists) throw new BrokerError('KAFKA_AUTH_INVALID', 'Secret ns/a not found');
    return { protocol: 'PLAINTEXT' };
  }, 1000, () => clock);
  await assert.rejects(read({ namespace: 'ns', name: 'a' }), /not found/);
  exists = true;
  await assert.rejects(read({ namespace: 'ns', name: 'a' }), /not found/);
  clock = 1000;
  assert.deepEqual(await read({ namespace: 'ns', name: 'a' }), { protocol: 'PLAINTEXT' });
  assert.equal(reads, 2);
});
