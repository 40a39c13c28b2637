import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { toKafkaRecord } from '../../core/cloudevents/kafka-binding.js';
import { InProcessContractSource } from '../../core/contract/source.js';
import type { Resource } from '../../core/contract/types.js';
import { silentLogger } from '../../core/logger.js';
import { dispatcherConfigSchema } from '../../dispatcher/config.js';
import { DeadLetterService } from '../../dispatcher/dead-letters/service.js';
import { makeContract } from '../helpers/builders.js';
import { kafkaBootstrapServers, kafkaEventLog } from '../helpers/kafka.js';
import { watchGroupsJoinedBy } from '../helpers/kafka-groups.js';
import { uniqueName } from '../helpers/wait.js';

/**
 * Issue 14, item 9 on real Kafka: the dead-letters list pages through a sink's topic with a
 * continuation token, and neither listing nor showing creates a consumer group.
 */

test('dead-letters list pages a KafkaSink on Kafka and leaves no consumer group behind', { timeout: 180_000 }, async (t) => {
  const log = kafkaEventLog(t, 'dead-letters-paging');
  const admin = new Kafka({ clientId: 'dead-letters-paging-test', brokers: kafkaBootstrapServers(), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  t.after(() => admin.disconnect());
  const topic = uniqueName('dl-paging');
  const quarantineTopic = uniqueName('dl-paging-quarantine');
  const replaysTopic = uniqueName('dl-paging-replays');
  await log.ensureTopic(topic, { partitions: 3, replicationFactor: 1 });
  const sink: Resource = {
    uid: 'sink-dl', kind: 'KafkaSink', reference: { kind: 'KafkaSink', namespace: 'default', name: 'dl', uid: 'sink-dl' },
    topics: [topic], ingress: { path: '/sinks/default/dl', contentMode: 'binary' }, egressConfig: null, egresses: [],
  };
  const service = new DeadLetterService({
    log, contracts: new InProcessContractSource(makeContract([sink])), logger: silentLogger(),
    config: dispatcherConfigSchema.parse({ defaultTimeoutMs: 5000, quarantineTopic }), replays: { topic: replaysTopic },
  });
  t.after(() => service.close());
  const ids = Array.from({ length: 25 }, (_, i) => `ev-${i}`);
  await log.append(topic, ids.map((id) => toKafkaRecord({
    attributes: { specversion: '1.0', id, source: '/shop', type: 'com.example.payment', knativeerrordest: 'http://sub.example/pay', knativeerrorcode: '500', knativeerrortrigger: 'default/pay', partitionkey: id },
    data: Buffer.from(`{"order":"${id}"}`),
  }, 'binary')));
  // The replays topic is created on first use; create it now so that only reads happen below.
  await service.list({ limit: 1 });

  const before = new Set((await admin.listGroups()).groups.map((g) => g.groupId));
  const watch = watchGroupsJoinedBy(admin, 'dead-letters-paging');
  const seen: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await service.list({ limit: 10, ...(token === undefined ? {} : { continue: token }) });
    assert.ok(page.items.length <= 10);
    seen.push(...page.items.map((i) => i.id));
    token = page.continue;
    pages++;
  } while (token !== undefined && pages < 10);
  const [shown] = await service.show('ev-7');
  const joined = await watch.stop();
  // Other runs share this Kafka: of the groups that appeared, none may have been joined by us.
  const appeared = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => !before.has(g));
  const created = appeared.length === 0 ? [] : (await admin.describeGroups(appeared)).groups.filter((g) => g.members.some((m) => m.clientId.startsWith('dead-letters-paging'))).map((g) => g.groupId);

  assert.deepEqual([...seen].sort(), [...ids].sort(), 'every dead letter once over the pages');
  assert.equal(pages, 3);
  assert.equal(shown?.id, 'ev-7');
  assert.deepEqual([...joined, ...created], [], 'no consumer group was joined or left behind by list or show');
});
