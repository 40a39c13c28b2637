import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ingressConfigSchema } from '../../broker-ingress/config.js';
import { startIngress } from '../../broker-ingress/main.js';
import { InProcessContractSource } from '../../core/contract/source.js';
import { silentLogger } from '../../core/logger.js';
import { createMetricsRegistry } from '../../core/metrics.js';
import { dispatcherConfigSchema } from '../../dispatcher/config.js';
import { startDispatcher } from '../../dispatcher/main.js';
import { makeBroker, makeContract } from '../helpers/builders.js';
import { answer, eventLogKinds, startSubscriber, uniqueEgress } from '../helpers/servers.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';

/**
 * Observable (issue 18, metrics): a broker's ingress and dispatcher running in one process with
 * one registry, as `kafka-broker start` runs them; the test sends known traffic over HTTP and
 * reads `GET /metrics` as Prometheus would, on the in-memory log and on Kafka.
 *
 *   test ──POST──▶ ingress ──append──▶ topic ──▶ dispatcher ──POST──▶ subscriber (up / down)
 *        ◀──GET /metrics (text format)──┘
 */

interface Sample {
  readonly name: string;
  readonly labels: ReadonlyMap<string, string>;
  readonly value: number;
}

/** The samples of a Prometheus text exposition (comments skipped; label values unescaped). */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    const labels = new Map<string, string>();
    for (const [, name, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels.set(name!, value!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\'));
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `labels`. */
function sum(samples: readonly Sample[], name: string, labels: Readonly<Record<string, string>> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels.get(k) === v))
    .reduce((n, s) => n + s.value, 0);
}

async function scrape(url: string): Promise<Sample[]> {
  const response = await fetch(`${url}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseExposition(await response.text());
}

async function post(url: string, type: string, id: string, extra: Record<string, string> = {}, body = '{"n":1}'): Promise<number> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/metrics-test', 'ce-type': type, 'content-type': 'application/json', ...extra },
    body,
  });
  await response.arrayBuffer();
  return response.status;
}

for (const kind of eventLogKinds) {
  const wait = { timeoutMs: kind.timeoutMs };

  describe(`metrics on ${kind.name}`, { timeout: kind.timeoutMs * 4 }, () => {
    test('GET /metrics counts what was sent, delivered and refused; lag rises while the subscriber is down and falls when it is back', async (t) => {
      const log = kind.create(t);
      const subscriber = await startSubscriber(t);
      let up = true;
      subscriber.respond((_request, response) => answer(response, up ? 200 : 503));

      const topic = uniqueName('metrics');
      await log.ensureTopic(topic, { partitions: 2, replicationFactor: 1 });
      const egress = uniqueEgress('watched', { destination: `${subscriber.url}/hook` });
      await log.initGroup(egress.consumerGroup, topic, 'earliest');
      const broker = makeBroker(uniqueName('b'), [egress], { topics: [topic] }, 'metrics-ns');
      const contracts = new InProcessContractSource(makeContract([broker], 1));

      const registry = createMetricsRegistry();
      // One event type keeps its name; the second folds into `other`.
      const ingress = await startIngress({
        config: ingressConfigSchema.parse({ host: '127.0.0.1', port: 0, metricsMaxEventTypes: 1, bodyLimitBytes: 1024 }), log, contracts, logger: silentLogger(), metrics: registry,
      });
      t.after(() => ingress.close());
      const dispatcher = await startDispatcher({
        config: dispatcherConfigSchema.parse({ commitIntervalMs: 50, stallBackoffBaseMs: 20, maxStallBackoffMs: 200, egressRestartBackoffMs: 200 }),
        log, contracts, logger: silentLogger(), metrics: registry,
      });
      t.after(() => dispatcher.close());
      const brokerUrl = `${ingress.url}${broker.ingress!.path}`;
      const trigger = { kn_trigger_namespace: egress.reference.namespace, kn_trigger_name: egress.reference.name };
      const atIngress = { kn_broker_namespace: 'metrics-ns', kn_broker_name: broker.reference.name };

      // 1. Known traffic: 5 of one type, 3 of another, 1 refused (no source), 1 refused before its body is read (too large).
      for (let i = 0; i < 5; i++) assert.equal(await post(brokerUrl, 'com.example.a', `a-${i}`), 202);
      for (let i = 0; i < 3; i++) assert.equal(await post(brokerUrl, 'com.example.b', `b-${i}`), 202);
      assert.equal(await post(brokerUrl, 'com.example.a', 'bad', { 'ce-source': '' }), 400);
      assert.equal(await post(brokerUrl, 'com.example.a', 'big', {}, `{"n":"${'x'.repeat(1100)}"}`), 413);
      await waitUntil(() => subscriber.requests.length === 8, { ...wait, message: '8 deliveries' });

      let m = await waitUntil(async () => {
        const samples = await scrape(ingress.url);
        return sum(samples, 'kafka_broker_dispatch_events_total', { ...trigger, outcome: 'delivered' }) === 8 ? samples : undefined;
      }, { ...wait, message: 'the deliveries counted' });
      const count = 'kn_eventing_dispatch_latency_ms_count';
      assert.equal(sum(m, count, { ...atIngress, cloudevents_type: 'com.example.a', http_response_status_code: '202' }), 5);
      assert.equal(sum(m, count, { ...atIngress, cloudevents_type: 'other', http_response_status_code: '202' }), 3, 'past metricsMaxEventTypes types fold into other');
      assert.equal(sum(m, count, { ...atIngress, http_response_status_code: '400' }), 1);
      assert.equal(sum(m, count, { ...atIngress, http_response_status_code: '413' }), 1, 'a body refused by the server, not the route, is counted too');
      assert.equal(sum(m, count, { ...trigger, http_response_status_code: '200' }), 8, 'one observation per attempt at the subscriber');
      assert.equal(sum(m, 'kn_eventing_dispatch_latency_ms_bucket', { ...trigger, http_response_status_code: '200', le: '+Inf' }), 8);
      assert.equal(sum(m, 'kafka_broker_dispatch_events_total', { ...trigger, outcome: 'dead_lettered' }), 0);
      assert.equal(sum(m, 'kafka_broker_contract_generation', { component: 'dispatcher' }), 1);
      assert.equal(sum(m, 'kafka_broker_contract_generation', { component: 'broker-ingress' }), 1);
      assert.ok(sum(m, 'process_cpu_user_seconds_total') > 0, 'process metrics');
      assert.ok(m.some((s) => s.name === 'nodejs_eventloop_lag_seconds'));
      await waitUntil(async () => sum(await scrape(ingress.url), 'kafka_broker_consumer_lag_records', { ...trigger, consumer_group: egress.consumerGroup }) === 0, { ...wait, message: 'no lag once delivered' });

      // 2. The subscriber goes down: 4 events wait (held, never dropped) and the lag says so.
      up = false;
      for (let i = 0; i < 4; i++) assert.equal(await post(brokerUrl, 'com.example.a', `down-${i}`), 202);
      m = await waitUntil(async () => {
        const samples = await scrape(ingress.url);
        const lagged = sum(samples, 'kafka_broker_consumer_lag_records', trigger) === 4;
        const aged = samples.some((s) => s.name === 'kafka_broker_consumer_lag_oldest_age_seconds' && s.labels.get('kn_trigger_name') === trigger.kn_trigger_name && s.value > 0);
        return lagged && aged && sum(samples, 'kafka_broker_dispatch_held_events', trigger) >= 1 ? samples : undefined;
      }, { ...wait, message: 'lag of 4 with an age, and held events' });
      assert.deepEqual(
        new Set(m.filter((s) => s.name === 'kafka_broker_consumer_lag_records' && s.labels.get('kn_trigger_name') === trigger.kn_trigger_name).map((s) => s.labels.get('partition'))),
        new Set(['0', '1']), 'one series per partition',
      );
      assert.ok(sum(m, count, { ...trigger, http_response_status_code: '503' }) >= 4, 'the failed attempts are observed with their status');
      assert.ok(sum(m, 'kafka_broker_dispatch_held_rounds_total', trigger) >= 1);
      const lag = await dispatcher.lag();
      assert.equal(lag.find((l) => l.consumerGroup === egress.consumerGroup)?.records, 4);

      // 3. It comes back: everything is delivered and the lag falls to 0.
      up = true;
      m = await waitUntil(async () => {
        const samples = await scrape(ingress.url);
        return sum(samples, 'kafka_broker_consumer_lag_records', trigger) === 0 && sum(samples, 'kafka_broker_dispatch_events_total', { ...trigger, outcome: 'delivered' }) === 12 ? samples : undefined;
      }, { ...wait, message: 'lag back to 0 and 12 delivered' });
      assert.equal(sum(m, 'kafka_broker_dispatch_held_events', trigger), 0);
      assert.equal(sum(m, 'kafka_broker_consumer_lag_oldest_age_seconds', trigger), 0);
      assert.equal(sum(m, count, { ...atIngress, cloudevents_type: 'com.example.a', http_response_status_code: '202' }), 9);
    });
  });
}
