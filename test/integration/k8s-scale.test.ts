// Many Triggers through a real kube-apiserver to the data plane, on Kafka: every one reaches the
// data plane's contract (fetched over HTTP, gzipped) and gets Ready, and deleting them all goes
// through the finalizers (consumer groups, then topics). The suite runs 1,000; the 10,000 of the
// issue run in `npx tsx test/bench/k8s-scale.bench.ts` (several minutes on 2 cores, see README).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KafkaEventLog } from '../../core/event-log/kafka/adapter.js';
import { silentLogger } from '../../core/logger.js';
import { kafkaBootstrapServers } from '../helpers/kafka.js';
import { startTestKube } from '../helpers/kube.js';
import { uniqueName } from '../helpers/wait.js';
import { SYSTEM_NAMESPACE, ensureNamespace, runScale, watchedLog } from './k8s-harness.js';

const kube = await startTestKube();
await ensureNamespace(kube, SYSTEM_NAMESPACE);

test('1,000 Triggers over 10 Brokers reach the data plane, get Ready, and are cleaned up when deleted', { timeout: 600_000 }, async (t) => {
  const kafka = new KafkaEventLog({ brokers: kafkaBootstrapServers(), clientId: 'k8s-scale-test', logger: silentLogger() });
  t.after(() => kafka.close());
  const { log, calls } = watchedLog(kafka);
  const ns = uniqueName('k8s-scale').toLowerCase();
  const r = await runScale({ kube, log, namespace: ns, brokers: 10, triggers: 1000, onProgress: (line) => t.diagnostic(line) });
  t.diagnostic(JSON.stringify(r));
  assert.equal(r.leaderships, 1);
  assert.equal(calls.initGroup.size, 1000, 'a consumer group positioned per Trigger');
  assert.equal(calls.deleteGroup.size, 1000, 'and deleted');
  assert.equal(calls.deleteTopic.size, 10, "every Broker's topic deleted");
  for (let b = 0; b < 10; b++) assert.equal(await kafka.describeTopic(`knative-broker-${ns}-broker-${b}`), undefined);
  assert.ok(r.contractGzipBytes * 5 < r.contractJsonBytes, 'gzip at least 5x');
  assert.ok(r.bytesReceived < r.bytesDecoded, 'the data plane received gzipped contracts');
  assert.ok(r.statusWrites >= 1000, `a status written per Trigger (${r.statusWrites})`);
  assert.equal(r.finalizerWrites, 1010, 'a finalizer added to every Trigger and Broker');
});
