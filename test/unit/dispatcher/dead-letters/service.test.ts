import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { CloudEvent } from '../../../../core/cloudevents/event.js';
import { decodeHttp } from '../../../../core/cloudevents/http-binding.js';
import { toKafkaRecord } from '../../../../core/cloudevents/kafka-binding.js';
import type { Egress, Resource } from '../../../../core/contract/types.js';
import { InProcessContractSource } from '../../../../core/contract/source.js';
import { BrokerError } from '../../../../core/errors.js';
import { MemoryEventLog } from '../../../../core/event-log/memory.js';
import { silentLogger } from '../../../../core/logger.js';
import { dispatcherConfigSchema } from '../../../../dispatcher/config.js';
import { REPLAYS_TOPIC } from '../../../../dispatcher/dead-letters/replay-records.js';
import { DeadLetterService } from '../../../../dispatcher/dead-letters/service.js';
import type { DeadLetterDetail } from '../../../../dispatcher/dead-letters/types.js';
import { makeBroker, makeContract, makeEgress, makeEgressConfig } from '../../../helpers/builders.js';
import { startRecordingServer, type ReceivedRequest, type RecordingServer } from '../../../helpers/http.js';

/**
 * The dead-letter service on the in-memory log: listing and showing what a KafkaSink's topic
 * holds, and replaying through the dispatcher's pipeline to real HTTP servers. The scenario
 * through `kafka-broker start`, on both logs, is test/integration/dead-letters-cli.test.ts.
 */

const SINK_TOPIC = 'dead-letters-default-dl';
const NOW = Date.parse('2026-11-27T12:00:00Z');

const sinkResource = (name = 'dl', topic = SINK_TOPIC, contentMode: 'binary' | 'structured' = 'binary'): Resource => ({
  uid: `sink-${name}`,
  kind: 'KafkaSink',
  reference: { kind: 'KafkaSink', namespace: 'default', name, uid: `sink-${name}` },
  topics: [topic],
  ingress: { path: `/sinks/default/${name}`, contentMode },
  egressConfig: null,
  egresses: [],
});

interface World {
  readonly log: MemoryEventLog;
  readonly contracts: InProcessContractSource;
  readonly service: DeadLetterService;
  readonly subscriber: RecordingServer;
  readonly deadLetterSink: RecordingServer;
  /** Appends a dead letter as the dispatcher writes one; returns its ref. */
  deadLetter(id: string, overrides?: { attributes?: Record<string, string>; data?: Buffer; mode?: 'binary' | 'structured'; topic?: string }): Promise<string>;
  /** Replaces the trigger `pay` in the contract. */
  setTrigger(overrides: Partial<Egress> | null): void;
}

async function world(t: TestContext): Promise<World> {
  const log = new MemoryEventLog();
  t.after(() => log.close());
  await log.ensureTopic(SINK_TOPIC, { partitions: 2, replicationFactor: 1 });
  await log.ensureTopic('knative-broker-default-b', { partitions: 1, replicationFactor: 1 });
  const subscriber = await startRecordingServer();
  const deadLetterSink = await startRecordingServer();
  t.after(() => subscriber.close());
  t.after(() => deadLetterSink.close());
  const trigger = (overrides: Partial<Egress>): Egress => makeEgress('pay', {
    destination: `${subscriber.url}/pay`,
    egressConfig: makeEgressConfig({ retry: 1, backoffDelayMs: 1, deadLetter: `${deadLetterSink.url}/dls` }),
    ...overrides,
  });
  let generation = 1;
  const contracts = new InProcessContractSource(makeContract([makeBroker('b', [trigger({})]), sinkResource()], generation));
  const service = new DeadLetterService({
    log, contracts, config: dispatcherConfigSchema.parse({ defaultTimeoutMs: 5000 }), logger: silentLogger(), now: () => NOW,
  });
  t.after(() => service.close());
  return {
    log, contracts, service, subscriber, deadLetterSink,
    deadLetter: async (id, overrides = {}) => {
      const event: CloudEvent = {
        attributes: {
          specversion: '1.0', id, source: '/shop', type: 'com.example.payment', datacontenttype: 'application/json', knativebrokerttl: '255',
          knativeerrordest: `${subscriber.url}/pay`, knativeerrorcode: '500', knativeerrordata: Buffer.from('{"error":"boom"}').toString('base64'),
          knativeerrortrigger: 'default/pay', knativeerrorbroker: 'default/b', partitionkey: id,
          ...overrides.attributes,
        },
        data: overrides.data ?? Buffer.from(`{"order":"${id}"}`),
      };
      const topic = overrides.topic ?? SINK_TOPIC;
      const [at] = await log.append(topic, [toKafkaRecord(event, overrides.mode ?? 'binary')]);
      return `default/dl/${at!.partition}/${at!.offset}`;
    },
    setTrigger: (overrides) => {
      contracts.publish(makeContract([makeBroker('b', overrides === null ? [] : [trigger(overrides)]), sinkResource()], ++generation));
    },
  };
}

const eventsOf = (requests: readonly ReceivedRequest[]): CloudEvent[] =>
  requests.flatMap((r) => {
    const decoded = decodeHttp(r.headers as Record<string, string>, r.body);
    return decoded.ok ? decoded.events : [];
  });

async function rejects(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof BrokerError, String(error));
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  });
}

describe('dead letters: list and show', () => {
  test('lists one row per dead letter, in both content modes, counting what is not a dead letter', async (t) => {
    const w = await world(t);
    await w.deadLetter('a');
    await w.deadLetter('b', { mode: 'structured', attributes: { knativeerrortrigger: 'default/other', type: 'com.example.refund' } });
    // A plain event someone posted to the sink, and a record that is no CloudEvent at all.
    await w.log.append(SINK_TOPIC, [toKafkaRecord({ attributes: { specversion: '1.0', id: 'plain', source: '/x', type: 't' } }), { key: null, value: Buffer.from('junk'), headers: {} }]);
    const list = await w.service.list();
    assert.deepEqual(list.items.map((i) => i.id).sort(), ['a', 'b']);
    assert.equal(list.other, 2);
    assert.deepEqual(list.sinks, [{ namespace: 'default', name: 'dl', topic: SINK_TOPIC, path: '/sinks/default/dl' }]);
    const a = list.items.find((i) => i.id === 'a')!;
    assert.deepEqual(a.failedFor, { kind: 'Trigger', namespace: 'default', name: 'pay' });
    assert.equal(a.errorCode, 500);
    assert.equal(a.errorDest, `${w.subscriber.url}/pay`);
    assert.equal(a.broker, 'default/b');
    assert.equal(a.type, 'com.example.payment');
    assert.equal(a.replay, null);
    assert.match(a.ref, /^default\/dl\/[01]\/\d+$/);
  });

  test('filters by trigger, subscription, type and time; limit makes pages', async (t) => {
    const w = await world(t);
    await w.deadLetter('a');
    await w.deadLetter('b', { attributes: { knativeerrortrigger: 'default/other', type: 'com.example.refund' } });
    await w.deadLetter('c', { attributes: { knativeerrortrigger: '', knativeerrorsubscription: 'default/sub' } });
    const ids = async (query: Parameters<DeadLetterService['list']>[0]): Promise<string[]> => (await w.service.list(query)).items.map((i) => i.id).sort();
    assert.deepEqual(await ids({ trigger: { namespace: 'default', name: 'pay' } }), ['a']);
    assert.deepEqual(await ids({ subscription: { namespace: 'default', name: 'sub' } }), ['c']);
    assert.deepEqual(await ids({ type: 'com.example.refund' }), ['b']);
    assert.deepEqual(await ids({ since: Date.now() + 60_000 }), []);
    assert.deepEqual(await ids({ since: Date.now() - 60_000 }), ['a', 'b', 'c']);
    const limited = await w.service.list({ limit: 2 });
    assert.equal(limited.items.length, 2);
    assert.ok(limited.continue !== undefined, 'a full page with more after it gives a continue token');
    const rest = await w.service.list({ limit: 2, continue: limited.continue });
    assert.equal(rest.items.length, 1);
    assert.equal(rest.continue, undefined, 'the last page has no token');
    assert.deepEqual([...limited.items, ...rest.items].map((i) => i.id).sort(), ['a', 'b', 'c']);
  });

  test('pages walk every dead letter once, filters apply per page, and new ones show up on later pages', async (t) => {
    const w = await world(t);
    const ids = Array.from({ length: 12 }, (_, i) => `e${String(i).padStart(2, '0')}`);
    for (const id of ids) await w.deadLetter(id);
    await w.log.append(SINK_TOPIC, [{ key: null, value: Buffer.from('junk'), headers: {} }]);
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    let other = 0;
    do {
      const page = await w.service.list({ limit: 5, ...(token === undefined ? {} : { continue: token }) });
      assert.ok(page.items.length <= 5);
      seen.push(...page.items.map((i) => i.id));
      other += page.other;
      token = page.continue;
      pages++;
    } while (token !== undefined && pages < 10);
    assert.deepEqual([...seen].sort(), ids, 'every dead letter once, none twice');
    assert.equal(other, 1);
    assert.equal(pages, 3);

    // A filter that matches one in twelve still pages by matches, not by records read.
    const one = await w.service.list({ limit: 1, trigger: { namespace: 'default', name: 'pay' } });
    assert.equal(one.items.length, 1);

    // A token taken before more were dead-lettered: the next page has what was left, and the new one.
    const first = await w.service.list({ limit: 11 });
    assert.equal(first.items.length, 11);
    assert.ok(first.continue !== undefined);
    const left = ids.filter((id) => !first.items.some((i) => i.id === id));
    await w.deadLetter('late');
    const later = await w.service.list({ continue: first.continue });
    assert.deepEqual(later.items.map((i) => i.id).sort(), [...left, 'late'].sort());
  });

  test('a damaged continue token is INVALID_REQUEST with a sentence', async (t) => {
    const w = await world(t);
    await rejects(w.service.list({ continue: 'not-a-token' }), 'INVALID_REQUEST', /continue must be a token a previous list returned/);
  });

  test('an unknown sink, and an id that names nothing, are NOT_FOUND with a sentence', async (t) => {
    const w = await world(t);
    await rejects(w.service.list({ sink: { namespace: 'default', name: 'nope' } }), 'NOT_FOUND', /KafkaSink default\/nope is not serving/);
    await rejects(w.service.show('nope'), 'NOT_FOUND', /no dead letter with id "nope" \(searched default\/dl\)/);
  });

  test('show gives the whole event, its data as text and knativeerrordata decoded; by id or by ref', async (t) => {
    const w = await world(t);
    const ref = await w.deadLetter('a');
    const [byId] = await w.service.show('a');
    const [byRef] = await w.service.show(ref);
    assert.deepEqual(byId, byRef);
    const d = byId as DeadLetterDetail;
    assert.deepEqual(d.data, { encoding: 'text', value: '{"order":"a"}', bytes: 13 });
    assert.deepEqual(d.errorData, { encoding: 'text', value: '{"error":"boom"}', bytes: 16 });
    assert.equal(d.attributes['knativeerrorcode'], '500');
    assert.equal(d.attributes['partitionkey'], 'a');
  });

  test('binary data and a binary error body are shown as base64', async (t) => {
    const w = await world(t);
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]);
    await w.deadLetter('img', { data: png, attributes: { datacontenttype: 'image/png', knativeerrordata: Buffer.from([0, 1, 2]).toString('base64') } });
    const [d] = await w.service.show('img');
    assert.deepEqual(d!.data, { encoding: 'base64', value: png.toString('base64'), bytes: 6 });
    assert.deepEqual(d!.errorData, { encoding: 'base64', value: 'AAEC', bytes: 3 });
  });

  test('one event dead-lettered twice is two dead letters under one id', async (t) => {
    const w = await world(t);
    await w.deadLetter('a');
    await w.deadLetter('a', { attributes: { knativeerrortrigger: 'default/other' } });
    const shown = await w.service.show('a');
    assert.equal(shown.length, 2);
    assert.notEqual(shown[0]!.ref, shown[1]!.ref);
  });
});

describe('dead letters: replay', () => {
  test('sends the event without its knativeerror* extensions to the trigger’s current subscriber, and records it', async (t) => {
    const w = await world(t);
    const ref = await w.deadLetter('a');
    // The subscriber was fixed and moved since the event failed: the current contract decides.
    w.setTrigger({ destination: `${w.subscriber.url}/fixed` });
    const report = await w.service.replay({ ids: ['a'] });
    assert.deepEqual(report.results, [{
      ref, id: 'a', failedFor: { kind: 'Trigger', namespace: 'default', name: 'pay' }, target: 'Trigger default/pay',
      destination: `${w.subscriber.url}/fixed`, outcome: 'delivered', recorded: true,
    }]);
    assert.deepEqual(w.subscriber.requests.map((r) => r.url), ['/fixed']);
    const [sent] = eventsOf(w.subscriber.requests);
    assert.equal(sent!.attributes['id'], 'a');
    assert.deepEqual(Object.keys(sent!.attributes).filter((n) => n.startsWith('knative')), [], 'no knativeerror* and no TTL');
    assert.equal(sent!.data?.toString(), '{"order":"a"}');
    const [listed] = (await w.service.list()).items;
    assert.equal(listed!.replay?.outcome, 'delivered');
    assert.equal(listed!.replay?.count, 1);
    assert.equal(listed!.replay?.replayedAt, new Date(NOW).toISOString());
    assert.deepEqual(listed!.replay?.target, { kind: 'Trigger', namespace: 'default', name: 'pay' });
  });

  test('replaying it again asks for force; force sends it once more and counts it', async (t) => {
    const w = await world(t);
    await w.deadLetter('a');
    await w.service.replay({ ids: ['a'] });
    await rejects(w.service.replay({ ids: ['a'] }), 'ALREADY_REPLAYED', /dead letter "a" was already replayed at .*\(delivered, to Trigger default\/pay\); use --force/);
    assert.equal(w.subscriber.requests.length, 1, 'nothing sent by the refused replay');
    const forced = await w.service.replay({ ids: ['a'], force: true });
    assert.equal(forced.results[0]?.outcome, 'delivered');
    assert.equal(w.subscriber.requests.length, 2);
    assert.equal((await w.service.list()).items[0]?.replay?.count, 2);
  });

  test('--all replays what was not replayed yet, so an interrupted replay is finished by running it again', async (t) => {
    const w = await world(t);
    await w.deadLetter('a');
    await w.deadLetter('b');
    await w.deadLetter('c', { attributes: { type: 'com.example.refund' } });
    await w.service.replay({ ids: ['a'] }); // "interrupted" after the first
    const rest = await w.service.replay({ all: true, query: { type: 'com.example.payment' } });
    assert.deepEqual(rest.results.map((r) => r.id), ['b']);
    const again = await w.service.replay({ all: true });
    assert.deepEqual(again.results.map((r) => r.id), ['c']);
    assert.deepEqual((await w.service.replay({ all: true })).results, []);
    assert.deepEqual(eventsOf(w.subscriber.requests).map((e) => e.attributes['id']), ['a', 'b', 'c']);
  });

  test('a subscriber still failing: the event goes to the trigger’s dead-letter sink again, with fresh marks', async (t) => {
    const w = await world(t);
    await w.deadLetter('a');
    w.subscriber.respond((_req, res) => {
      res.statusCode = 503;
      res.end('still down');
    });
    const [result] = (await w.service.replay({ ids: ['a'] })).results;
    assert.equal(result?.outcome, 'dead-lettered');
    assert.match(result!.message!, /delivery failed again \(.*\/pay: HTTP 503\)/);
    assert.equal(w.subscriber.requests.length, 2, 'the trigger’s retry setting (1) applies');
    const [dead] = eventsOf(w.deadLetterSink.requests);
    assert.equal(dead?.attributes['knativeerrorcode'], '503');
    assert.equal(Buffer.from(String(dead?.attributes['knativeerrordata']), 'base64').toString(), 'still down');
    assert.equal((await w.service.list()).items[0]?.replay?.outcome, 'dead-lettered');
  });

  test('a failure nothing takes is reported and not recorded (replayable later)', async (t) => {
    const w = await world(t);
    await w.deadLetter('a');
    w.setTrigger({ egressConfig: makeEgressConfig({ retry: 0, deadLetter: null }) });
    w.subscriber.respond((_req, res) => {
      res.statusCode = 500;
      res.end();
    });
    const [result] = (await w.service.replay({ ids: ['a'] })).results;
    assert.equal(result?.outcome, 'failed');
    assert.equal(result?.recorded, false);
    assert.match(result!.message!, /delivery failed \(.*: HTTP 500\) and there is no dead-letter sink/);
    assert.equal((await w.service.list()).items[0]?.replay, null);
  });

  test('a trigger that is gone cannot be replayed to; --to sends to another URL instead', async (t) => {
    const w = await world(t);
    await w.deadLetter('a');
    w.setTrigger(null);
    const [gone] = (await w.service.replay({ ids: ['a'] })).results;
    assert.equal(gone?.outcome, 'failed');
    assert.match(gone!.message!, /Trigger default\/pay is not in the contract .*--to <url>/);
    const [to] = (await w.service.replay({ ids: ['a'], to: `${w.subscriber.url}/elsewhere` })).results;
    assert.equal(to?.outcome, 'delivered');
    assert.equal(to?.target, `${w.subscriber.url}/elsewhere`);
    assert.deepEqual(w.subscriber.requests.map((r) => r.url), ['/elsewhere']);
    assert.deepEqual((await w.service.list()).items[0]?.replay?.target, { kind: 'url' });
  });

  test('requests are checked before anything is sent', async (t) => {
    const w = await world(t);
    await w.deadLetter('a');
    await rejects(w.service.replay({}), 'INVALID_REQUEST', /give their ids, or all/);
    await rejects(w.service.replay({ ids: ['a'], all: true }), 'INVALID_REQUEST', /not both/);
    await rejects(w.service.replay({ ids: ['a'], to: 'ftp://x' }), 'INVALID_REQUEST', /absolute http or https URL/);
    await rejects(w.service.replay({ ids: ['a', 'nope'] }), 'NOT_FOUND', /no dead letter with id "nope"/);
    assert.equal(w.subscriber.requests.length, 0);
  });
});

describe('the replay record', () => {
  test('lives in a compacted topic and outlives the service (a restart finds it)', async (t) => {
    const w = await world(t);
    await w.deadLetter('a');
    await w.service.replay({ ids: ['a'] });
    const again = new DeadLetterService({ log: w.log, contracts: w.contracts, config: dispatcherConfigSchema.parse({}), logger: silentLogger() });
    t.after(() => again.close());
    assert.equal((await again.list()).items[0]?.replay?.outcome, 'delivered');
    assert.equal((await w.log.describeTopic(REPLAYS_TOPIC))?.partitions, 1);
  });
});
