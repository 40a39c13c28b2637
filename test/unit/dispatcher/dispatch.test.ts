import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CloudEvent } from '../../../core/cloudevents/event.js';
import { fromKafkaRecord, toKafkaRecord } from '../../../core/cloudevents/kafka-binding.js';
import type { Egress, EgressConfig, Resource } from '../../../core/contract/types.js';
import type { ConsumedRecord } from '../../../core/event-log/port.js';
import { MemoryEventLog } from '../../../core/event-log/memory.js';
import { compileFilter } from '../../../core/filters/compile.js';
import type { AttemptResult, HttpRequest, Sender } from '../../../dispatcher/delivery.js';
import {
  dispatchRecord, type Clock, type DispatchDeps, type DispatchListener, type EgressRoute, type StallReport,
} from '../../../dispatcher/dispatch.js';
import { readQuarantined } from '../../../dispatcher/quarantine.js';
import { policyFrom } from '../../../dispatcher/retry-policy.js';
import { UNDECODABLE_TYPE, type UndecodableData } from '../../../dispatcher/undecodable.js';
import { makeBroker, makeEgress, makeEgressConfig } from '../../helpers/builders.js';

/**
 * The dispatch state machine with a scripted HTTP sender and a clock that does not wait: every
 * step and every backoff is observed exactly. (The same rules run against real servers and both
 * event logs in test/integration/dispatch-*.test.ts.)
 */

const SUBSCRIBER = 'http://subscriber.test/';
const DLS = 'http://dls.test/';

type Script = (request: HttpRequest, n: number) => AttemptResult;
const ok = (status = 200, headers: Record<string, string> = {}, body = ''): AttemptResult => ({ kind: 'response', status, headers, body: Buffer.from(body), truncated: false });

class ScriptedSender implements Sender {
  readonly requests: HttpRequest[] = [];
  private readonly counts = new Map<string, number>();
  constructor(private readonly scripts: Record<string, Script>) {}
  async send(request: HttpRequest): Promise<AttemptResult> {
    this.requests.push(request);
    const n = (this.counts.get(request.url) ?? 0) + 1;
    this.counts.set(request.url, n);
    const script = this.scripts[request.url];
    return script === undefined ? { kind: 'network', message: 'ECONNREFUSED' } : script(request, n);
  }
  to(url: string): HttpRequest[] {
    return this.requests.filter((r) => r.url === url);
  }
}

class FakeClock implements Clock {
  readonly sleeps: number[] = [];
  private t = Date.parse('2026-01-01T00:00:00Z');
  now(): number {
    return this.t;
  }
  async sleep(ms: number, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return false;
    this.sleeps.push(ms);
    this.t += ms;
    return true;
  }
}

interface Recorded {
  done: string[];
  replies: string[];
  retries: number;
  stalls: StallReport[];
}

function recorder(): { listener: DispatchListener; seen: Recorded } {
  const seen: Recorded = { done: [], replies: [], retries: 0, stalls: [] };
  return {
    seen,
    listener: {
      onDone: (outcome) => seen.done.push(outcome),
      onReply: (outcome) => seen.replies.push(outcome),
      onRetry: () => seen.retries++,
      onStall: (report) => seen.stalls.push(report),
    },
  };
}

const event = (extra: Record<string, string> = {}): CloudEvent => ({
  attributes: { specversion: '1.0', id: 'e1', source: '/test', type: 'order.created', knativebrokerttl: '255', ...extra },
  data: Buffer.from('{"n":1}'),
});

function record(e: CloudEvent = event()): ConsumedRecord & { doneCalls: number } {
  const appended = toKafkaRecord(e);
  const r = {
    topic: 't', partition: 0, offset: '0', key: appended.key ?? null, value: appended.value, headers: appended.headers ?? {}, timestamp: 0,
    doneCalls: 0,
    done: () => {
      r.doneCalls++;
    },
  };
  return r;
}

interface Setup {
  config?: EgressConfig | null;
  egress?: Partial<Egress>;
  scripts: Record<string, Script>;
  resource?: Partial<Resource>;
}

async function run(setup: Setup, r = record(), signal = new AbortController().signal) {
  const egress = makeEgress('orders', { destination: SUBSCRIBER, egressConfig: setup.config ?? null, ...setup.egress });
  const resource = makeBroker('default', [egress], { topics: ['broker-topic'], ...setup.resource });
  const log = new MemoryEventLog();
  await log.ensureTopic('broker-topic', { partitions: 1, replicationFactor: 1 });
  const sender = new ScriptedSender(setup.scripts);
  const clock = new FakeClock();
  const { listener, seen } = recorder();
  const route: EgressRoute = {
    resource, egress, deadLetter: setup.config?.deadLetter ?? null,
    policy: policyFrom(setup.config ?? null, { timeoutMs: 1000 }), accepts: compileFilter(egress.filter),
  };
  const deps: DispatchDeps = { sender, log, clock, random: () => 0, stallBackoff: { baseMs: 100, capMs: 800 }, listener };
  const result = await dispatchRecord(r, () => route, deps, signal);
  const appended: CloudEvent[] = [];
  for await (const a of log.read('broker-topic')) {
    const decoded = fromKafkaRecord(a);
    if (decoded.ok) appended.push(decoded.event);
  }
  const quarantined = (await readQuarantined(log)).map((q) => q.event);
  await log.close();
  return { result, record: r, sender, clock, seen, appended, quarantined };
}

describe('dispatch: delivery and retries', () => {
  test('2xx: delivered once, done, TTL removed, Prefer: reply and traceparent sent', async () => {
    const r = record(event({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'k=v' }));
    const out = await run({ scripts: { [SUBSCRIBER]: () => ok(200) } }, r);
    assert.equal(out.result, 'done');
    assert.equal(out.record.doneCalls, 1);
    assert.deepEqual(out.seen.done, ['delivered']);
    const [sent] = out.sender.requests;
    assert.equal(sent?.headers['prefer'], 'reply');
    assert.equal(sent?.headers['traceparent'], '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    assert.equal(sent?.headers['tracestate'], 'k=v');
    assert.equal(sent?.headers['ce-id'], 'e1');
    assert.equal(sent?.headers['ce-knativebrokerttl'], undefined);
    assert.equal(sent?.body?.toString(), '{"n":1}');
  });

  test('structured content mode when the egress asks for it', async () => {
    const out = await run({ egress: { contentMode: 'structured' }, scripts: { [SUBSCRIBER]: () => ok(200) } });
    const [sent] = out.sender.requests;
    assert.match(sent?.headers['content-type'] ?? '', /^application\/cloudevents\+json/);
    assert.equal(JSON.parse(sent?.body?.toString() ?? '{}').id, 'e1');
  });

  const retryTable: [string, Partial<EgressConfig>, number[]][] = [
    ['linear', { retry: 3, backoffPolicy: 'linear', backoffDelayMs: 10 }, [10, 20, 30]],
    ['exponential', { retry: 3, backoffPolicy: 'exponential', backoffDelayMs: 10 }, [20, 40, 80]],
    ['no retries', { retry: 0 }, []],
  ];
  for (const [name, config, sleeps] of retryTable) {
    test(`retries (${name}): ${1 + (config.retry ?? 0)} attempts, waits ${sleeps.join(', ') || 'none'}, then dead-lettered`, async () => {
      const out = await run({ config: makeEgressConfig({ ...config, deadLetter: DLS }), scripts: { [SUBSCRIBER]: () => ok(503), [DLS]: () => ok(202) } });
      assert.equal(out.sender.to(SUBSCRIBER).length, 1 + (config.retry ?? 0));
      assert.deepEqual(out.clock.sleeps, sleeps);
      assert.equal(out.sender.to(DLS).length, 1);
      assert.deepEqual(out.seen.done, ['dead-lettered']);
      assert.equal(out.record.doneCalls, 1);
    });
  }

  test('a non-retryable status fails at once and goes to the dead-letter sink with its marks', async () => {
    const out = await run({
      config: makeEgressConfig({ retry: 5, deadLetter: DLS }),
      scripts: { [SUBSCRIBER]: () => ok(400, {}, 'bad request body'), [DLS]: () => ok(200) },
    });
    assert.equal(out.sender.to(SUBSCRIBER).length, 1);
    const [dead] = out.sender.to(DLS);
    assert.equal(dead?.headers['ce-knativeerrordest'], SUBSCRIBER);
    assert.equal(dead?.headers['ce-knativeerrorcode'], '400');
    assert.equal(Buffer.from(dead?.headers['ce-knativeerrordata'] ?? '', 'base64').toString(), 'bad request body');
    assert.equal(dead?.headers['ce-knativeerrortrigger'], 'default/orders');
    assert.equal(dead?.headers['ce-knativeerrorbroker'], 'default/default');
    // The original event, unchanged otherwise; the broker's TTL never reaches a dead-letter sink.
    assert.equal(dead?.headers['ce-id'], 'e1');
    assert.equal(dead?.headers['ce-knativebrokerttl'], undefined);
  });

  test('timeouts and network errors are retried', async () => {
    const out = await run({
      config: makeEgressConfig({ retry: 2, backoffPolicy: 'linear', backoffDelayMs: 10 }),
      scripts: { [SUBSCRIBER]: (_r, n) => (n === 1 ? { kind: 'timeout' } : n === 2 ? { kind: 'network', message: 'ECONNRESET' } : ok(200)) },
    });
    assert.equal(out.sender.to(SUBSCRIBER).length, 3);
    assert.deepEqual(out.seen.done, ['delivered']);
  });

  test('Retry-After on 429 (seconds) and 503 (date) delays the next attempt at least that long, capped', async () => {
    const date = new Date(Date.parse('2026-01-01T00:00:00Z') + 10_000).toUTCString();
    const out = await run({
      config: makeEgressConfig({ retry: 3, backoffPolicy: 'linear', backoffDelayMs: 10, retryAfterMaxMs: 5000 }),
      scripts: {
        [SUBSCRIBER]: (_r, n) => (n === 1 ? ok(429, { 'retry-after': '2' }) : n === 2 ? ok(503, { 'retry-after': date }) : n === 3 ? ok(500, { 'retry-after': '9' }) : ok(200)),
      },
    });
    // 2 s asked; then 10 s asked from a clock 2.02 s later → 7.98 s, capped at 5 s; a 500's header is ignored.
    assert.deepEqual(out.clock.sleeps, [2000, 5000, 30]);
    assert.deepEqual(out.seen.done, ['delivered']);
  });
});

describe('dispatch: never drop', () => {
  test('no dead-letter sink: held with capped exponential backoff until the subscriber takes it', async () => {
    const out = await run({
      config: makeEgressConfig({ retry: 1, backoffPolicy: 'linear', backoffDelayMs: 10 }),
      scripts: { [SUBSCRIBER]: (_r, n) => (n < 7 ? ok(400) : ok(200)) },
    });
    // First round: 1 attempt (400 is not retried); then one attempt per held round.
    assert.equal(out.sender.to(SUBSCRIBER).length, 7);
    assert.deepEqual(out.clock.sleeps, [50, 100, 200, 400, 400, 400]); // random 0: half of 100·2^n capped at 800
    assert.deepEqual(out.seen.stalls.map((s) => s.reason), Array(6).fill('no-dead-letter-sink'));
    assert.deepEqual(out.seen.done, ['delivered']);
    assert.equal(out.record.doneCalls, 1);
  });

  test('a failing dead-letter sink: held, not done, until the sink recovers', async () => {
    const out = await run({
      config: makeEgressConfig({ retry: 0, deadLetter: DLS }),
      scripts: { [SUBSCRIBER]: () => ok(500), [DLS]: (_r, n) => (n < 4 ? ok(500) : ok(200)) },
    });
    assert.equal(out.sender.to(DLS).length, 4);
    assert.equal(out.sender.to(SUBSCRIBER).length, 4); // the subscriber is offered it again each round
    assert.deepEqual(out.seen.stalls.map((s) => s.reason), ['dead-letter-failed', 'dead-letter-failed', 'dead-letter-failed']);
    assert.deepEqual(out.seen.done, ['dead-lettered']);
    assert.equal(out.record.doneCalls, 1);
  });

  test('aborted while held: not done', async () => {
    const abort = new AbortController();
    let calls = 0;
    const out = await run({
      scripts: {
        [SUBSCRIBER]: () => {
          if (++calls === 3) abort.abort();
          return ok(500);
        },
      },
    }, record(), abort.signal);
    assert.equal(out.result, 'aborted');
    assert.equal(out.record.doneCalls, 0);
    assert.deepEqual(out.seen.done, []);
  });
});

describe('dispatch: filter and undecodable records', () => {
  test('an event the filter rejects is done without a delivery', async () => {
    const out = await run({ egress: { filter: { kind: 'exact', attributes: { type: 'other' } } }, scripts: { [SUBSCRIBER]: () => ok(200) } });
    assert.equal(out.sender.requests.length, 0);
    assert.deepEqual(out.seen.done, ['filtered']);
    assert.equal(out.record.doneCalls, 1);
  });

  test('a record that is not a CloudEvent, no dead-letter sink: quarantined whole, done, never delivered', async () => {
    const r = record();
    const garbage = { ...r, key: Buffer.from([0xff, 0x00]), headers: { 'x-producer': Buffer.from('other') }, value: Buffer.from('not an event'), offset: '41', timestamp: Date.parse('2026-02-03T04:05:06Z') };
    const out = await run({ scripts: { [SUBSCRIBER]: () => ok(200) } }, garbage as typeof r);
    assert.equal(out.sender.requests.length, 0);
    assert.deepEqual(out.seen.done, ['undecodable']);
    assert.equal(r.doneCalls, 1);
    assert.equal(out.quarantined.length, 1);
    const [q] = out.quarantined;
    assert.equal(q?.attributes['type'], UNDECODABLE_TYPE);
    assert.equal(q?.attributes['id'], 't/0/41');
    assert.equal(q?.attributes['knativeerrordest'], SUBSCRIBER);
    assert.equal(q?.attributes['knativeerrortrigger'], 'default/orders');
    assert.equal(q?.attributes['time'], '2026-02-03T04:05:06.000Z');
    const data = JSON.parse(q!.data!.toString()) as UndecodableData;
    assert.equal(data.error.code, 'NOT_A_CLOUDEVENT');
    assert.deepEqual(data.record, {
      topic: 't', partition: 0, offset: '41', timestamp: '2026-02-03T04:05:06.000Z', key: Buffer.from([0xff, 0x00]).toString('base64'),
      headers: [{ name: 'x-producer', value: Buffer.from('other').toString('base64') }], value: Buffer.from('not an event').toString('base64'),
    });
  });

  test('an invalid CloudEvent (prototype-named garbage header) with a dead-letter sink: wrapped and dead-lettered, not quarantined', async () => {
    const r = record();
    const bad = { ...r, headers: { ...r.headers, ce___proto__: Buffer.from('x') } };
    const out = await run({ config: makeEgressConfig({ deadLetter: DLS }), scripts: { [SUBSCRIBER]: () => ok(200), [DLS]: () => ok(202) } }, bad as typeof r);
    assert.equal(out.sender.to(SUBSCRIBER).length, 0);
    assert.equal(out.sender.to(DLS).length, 1);
    assert.equal(out.sender.to(DLS)[0]?.headers['ce-type'], UNDECODABLE_TYPE);
    assert.deepEqual(out.seen.done, ['undecodable']);
    assert.equal(r.doneCalls, 1);
    assert.equal(out.quarantined.length, 0);
  });

  test('undecodable and the dead-letter sink fails: quarantined after its retries, not held', async () => {
    const r = record();
    const garbage = { ...r, headers: {}, value: Buffer.from('garbage') };
    const out = await run({ config: makeEgressConfig({ retry: 2, deadLetter: DLS }), scripts: { [DLS]: () => ok(500) } }, garbage as typeof r);
    assert.equal(out.sender.to(DLS).length, 3);
    assert.deepEqual(out.seen.done, ['undecodable']);
    assert.deepEqual(out.seen.stalls, []);
    assert.equal(out.quarantined.length, 1);
    assert.equal(r.doneCalls, 1);
  });

  test('a decoder that throws (any exception) is an undecodable record, not a stuck partition', async () => {
    const r = record();
    // A headers object whose reading throws stands for any bug in decoding.
    const headers = new Proxy({}, { ownKeys: () => { throw new Error('boom'); }, get: () => { throw new Error('boom'); } });
    const out = await run({ scripts: { [SUBSCRIBER]: () => ok(200) } }, { ...r, headers } as typeof r);
    assert.deepEqual(out.seen.done, ['undecodable']);
    assert.equal(r.doneCalls, 1);
    assert.equal(out.quarantined.length, 1);
    assert.match(JSON.parse(out.quarantined[0]!.data!.toString()).error.message as string, /boom/);
  });

  test('a filter or route that throws outside the delivery rounds: the record still ends done', async () => {
    const r = record();
    let calls = 0;
    const egress = makeEgress('orders', { destination: SUBSCRIBER });
    const resource = makeBroker('default', [egress], { topics: ['broker-topic'] });
    const log = new MemoryEventLog();
    const { listener, seen } = recorder();
    const route = (): EgressRoute => {
      calls++;
      if (calls === 1) throw new Error('route exploded');
      return { resource, egress, deadLetter: null, policy: policyFrom(null, { timeoutMs: 1000 }), accepts: () => true };
    };
    const deps: DispatchDeps = { sender: new ScriptedSender({}), log, clock: new FakeClock(), random: () => 0, stallBackoff: { baseMs: 1, capMs: 1 }, listener };
    assert.equal(await dispatchRecord(r, route, deps, new AbortController().signal), 'done');
    assert.equal(r.doneCalls, 1);
    assert.deepEqual(seen.done, ['undecodable']);
    assert.equal((await readQuarantined(log)).length, 1);
    await log.close();
  });

  test('the quarantine cannot be written: held with the stall backoff (never dropped), then quarantined', async () => {
    const r = record();
    const garbage = { ...r, headers: {}, value: Buffer.from('garbage') };
    const egress = makeEgress('orders', { destination: SUBSCRIBER });
    const resource = makeBroker('default', [egress], { topics: ['broker-topic'] });
    const log = new MemoryEventLog();
    const { listener, seen } = recorder();
    let failures = 2;
    const put: { put(e: CloudEvent): Promise<void> } & { events: CloudEvent[] } = {
      events: [],
      put: async (e) => {
        if (failures-- > 0) throw new Error('log down');
        put.events.push(e);
      },
    };
    const route: EgressRoute = { resource, egress, deadLetter: null, policy: policyFrom(null, { timeoutMs: 1000 }), accepts: () => true };
    const clock = new FakeClock();
    const deps: DispatchDeps = { sender: new ScriptedSender({}), log, clock, random: () => 0, stallBackoff: { baseMs: 100, capMs: 800 }, listener, quarantine: put };
    assert.equal(await dispatchRecord(garbage as typeof r, () => route, deps, new AbortController().signal), 'done');
    assert.deepEqual(seen.stalls.map((s) => s.reason), ['quarantine-failed', 'quarantine-failed']);
    assert.equal(clock.sleeps.length, 2);
    assert.equal(put.events.length, 1);
    assert.equal(r.doneCalls, 1);
    await log.close();
  });
});

describe('dispatch: replies', () => {
  const replyHeaders = { 'ce-specversion': '1.0', 'ce-id': 'r1', 'ce-source': '/sub', 'ce-type': 'order.replied', 'ce-knativebrokerttl': '999', 'content-type': 'text/plain' };

  test('a reply is appended to the broker topic with TTL − 1 before the event is done', async () => {
    const out = await run({ scripts: { [SUBSCRIBER]: () => ok(200, replyHeaders, 'thanks') } }, record(event({ knativebrokerttl: '10' })));
    assert.deepEqual(out.seen.replies, ['appended']);
    assert.equal(out.appended.length, 1);
    assert.equal(out.appended[0]?.attributes['id'], 'r1');
    assert.equal(out.appended[0]?.attributes['knativebrokerttl'], '9');
    assert.equal(out.appended[0]?.data?.toString(), 'thanks');
    assert.deepEqual(out.seen.done, ['delivered']);
  });

  test('TTL exhausted: the reply is dropped, the event done', async () => {
    const out = await run({ scripts: { [SUBSCRIBER]: () => ok(200, replyHeaders, 'again') } }, record(event({ knativebrokerttl: '1' })));
    assert.deepEqual(out.seen.replies, ['ttl-exhausted']);
    assert.equal(out.appended.length, 0);
    assert.deepEqual(out.seen.done, ['delivered']);
  });

  test('202 with an event is not a reply', async () => {
    const out = await run({ scripts: { [SUBSCRIBER]: () => ok(202, replyHeaders, 'x') } });
    assert.deepEqual(out.seen.replies, []);
    assert.equal(out.appended.length, 0);
  });

  test('an invalid reply is a failed delivery: retried, then dead-lettered with the 2xx status', async () => {
    const { 'ce-id': _id, ...noId } = replyHeaders;
    const out = await run({
      config: makeEgressConfig({ retry: 2, deadLetter: DLS }),
      scripts: { [SUBSCRIBER]: () => ok(200, noId, 'bad'), [DLS]: () => ok(200) },
    });
    assert.equal(out.sender.to(SUBSCRIBER).length, 3);
    assert.equal(out.sender.to(DLS)[0]?.headers['ce-knativeerrorcode'], '200');
    assert.deepEqual(out.seen.done, ['dead-lettered']);
  });

  test('reply strategy url posts the reply; discard drops it', async () => {
    const REPLY = 'http://reply.test/';
    const posted = await run({ egress: { reply: { kind: 'url', url: REPLY } }, scripts: { [SUBSCRIBER]: () => ok(200, replyHeaders, 'r'), [REPLY]: () => ok(202) } });
    assert.equal(posted.sender.to(REPLY)[0]?.headers['ce-id'], 'r1');
    assert.equal(posted.sender.to(REPLY)[0]?.headers['ce-knativebrokerttl'], '254');
    assert.deepEqual(posted.seen.replies, ['posted']);
    assert.equal(posted.appended.length, 0);
    const discarded = await run({ egress: { reply: { kind: 'discard' } }, scripts: { [SUBSCRIBER]: () => ok(200, replyHeaders, 'r') } });
    assert.deepEqual(discarded.seen.replies, ['discarded']);
    assert.equal(discarded.sender.requests.length, 1);
  });

  test('a reply URL that fails for good dead-letters the event, naming the reply URL', async () => {
    const REPLY = 'http://reply.test/';
    const out = await run({
      config: makeEgressConfig({ retry: 1, deadLetter: DLS }),
      egress: { reply: { kind: 'url', url: REPLY } },
      scripts: { [SUBSCRIBER]: () => ok(200, replyHeaders, 'r'), [REPLY]: () => ok(503), [DLS]: () => ok(200) },
    });
    assert.equal(out.sender.to(REPLY).length, 2);
    assert.equal(out.sender.to(DLS)[0]?.headers['ce-knativeerrordest'], REPLY);
    assert.deepEqual(out.seen.done, ['dead-lettered']);
  });
});
