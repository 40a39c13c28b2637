import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { CloudEvent } from '../../../core/cloudevents/event.js';
import { toKafkaRecord } from '../../../core/cloudevents/kafka-binding.js';
import type { EgressConfig } from '../../../core/contract/types.js';
import { MemoryEventLog } from '../../../core/event-log/memory.js';
import type { ConsumedRecord, Headers } from '../../../core/event-log/port.js';
import { ownBytes } from '../../../core/owned-bytes.js';
import { compileFilter } from '../../../core/filters/compile.js';
import type { AttemptResult, HttpRequest, Sender } from '../../../dispatcher/delivery.js';
import { dispatchRecord, type Clock, type DispatchDeps, type EgressRoute, type StallReport } from '../../../dispatcher/dispatch.js';
import { policyFrom } from '../../../dispatcher/retry-policy.js';
import { makeBroker, makeEgress, makeEgressConfig } from '../../helpers/builders.js';

/**
 * A record read from a Fetch response is views of the whole response. From its first wait a
 * delivery must keep only the record's own bytes alive (what the waiting-memory budget counts),
 * and send the same bytes as before; a delivery that never waits copies nothing.
 */

const SUBSCRIBER = 'http://subscriber.test/';
const DLS = 'http://dls.test/';
/** About one Fetch response. */
const RESPONSE_BYTES = 1024 * 1024;

describe('ownBytes', () => {
  const big = Buffer.alloc(RESPONSE_BYTES);
  const pooled = Buffer.from('pooled'); // a view of Node's 8 KiB pool
  const cases: [string, Buffer, boolean][] = [
    ['a small view of a large buffer is copied', big.subarray(100, 120), true],
    ['a view of most of its buffer is kept', big.subarray(0, RESPONSE_BYTES - 10), false],
    ['a whole buffer is kept', Buffer.alloc(64 * 1024), false],
    ['a view of the 8 KiB pool is kept', pooled, false],
    ['an empty view of a large buffer is copied', big.subarray(5, 5), true],
  ];
  for (const [name, bytes, copied] of cases) {
    test(name, () => {
      const owned = ownBytes(bytes);
      assert.equal(owned !== bytes, copied);
      assert.deepEqual(owned, bytes);
      if (copied) assert.ok(owned.buffer.byteLength <= Buffer.poolSize, `copy in a buffer of ${owned.buffer.byteLength} bytes`);
    });
  }
});

/** A record as the platformatic consumer makes it: views of one response, and `detach` (the port's contract). */
class ViewRecord implements ConsumedRecord {
  readonly topic = 't';
  readonly partition = 0;
  readonly offset = '7';
  readonly timestamp = 0;
  doneCalls = 0;

  constructor(
    public key: Buffer | null,
    public value: Buffer | null,
    readonly headers: Headers,
  ) {}

  done(): void {
    this.doneCalls++;
  }

  detach(): void {
    if (this.key !== null) this.key = ownBytes(this.key);
    if (this.value !== null) this.value = ownBytes(this.value);
    const headers = this.headers as Record<string, Buffer>;
    for (const name in headers) headers[name] = ownBytes(headers[name]!);
  }
}

/** `event` written into the middle of one large buffer, the record's parts views of it. */
function recordInResponse(event: CloudEvent, mode: 'binary' | 'structured' = 'binary'): { record: ViewRecord; response: ArrayBufferLike } {
  const appended = toKafkaRecord(event, mode);
  const response = Buffer.alloc(RESPONSE_BYTES);
  let at = 4096;
  const place = (bytes: Buffer): Buffer => {
    bytes.copy(response, at);
    const view = response.subarray(at, at + bytes.length);
    at += bytes.length + 16;
    return view;
  };
  const headers: Record<string, Buffer> = {};
  for (const [name, bytes] of Object.entries(appended.headers ?? {})) headers[name] = place(bytes);
  const record = new ViewRecord(appended.key === null || appended.key === undefined ? null : place(appended.key), appended.value === null ? null : place(appended.value), headers);
  return { record, response: response.buffer };
}

const event = (data = '{"order":42,"items":["a","b","c"]}'): CloudEvent => ({
  attributes: { specversion: '1.0', id: 'e1', source: '/test', type: 'order.created', partitionkey: 'k1' },
  data: Buffer.from(data),
});

const response = (status: number): AttemptResult => ({ kind: 'response', status, headers: {}, body: Buffer.from(status >= 300 ? 'no' : ''), truncated: false });

interface Sent {
  readonly url: string;
  readonly body: Buffer | undefined;
  readonly headers: HttpRequest['headers'];
}

/** Answers from `answers` per URL in turn (then 200), and calls `atSleep` at each wait with what it sent so far. */
async function dispatch(
  record: ViewRecord,
  answers: Record<string, number[]>,
  config: EgressConfig | null,
  atSleep: (sent: Sent[], stalls: readonly StallReport[]) => void | Promise<void>,
  contentMode: 'binary' | 'structured' = 'binary',
) {
  const egress = makeEgress('orders', { destination: SUBSCRIBER, egressConfig: config, contentMode });
  const resource = makeBroker('default', [egress], { topics: ['broker-topic'] });
  const sent: Sent[] = [];
  const stalls: StallReport[] = [];
  const sender: Sender = {
    send: async (request) => {
      sent.push({ url: request.url, body: request.body, headers: request.headers });
      return response(answers[request.url]?.shift() ?? 200);
    },
  };
  const clock: Clock = {
    now: () => 0,
    sleep: async () => {
      await atSleep(sent, stalls);
      return true;
    },
  };
  const route: EgressRoute = { resource, egress, deadLetter: config?.deadLetter ?? null, policy: policyFrom(config, { timeoutMs: 1000 }), accepts: compileFilter(egress.filter) };
  const waited: number[] = [];
  const deps: DispatchDeps = {
    sender, log: new MemoryEventLog(), clock, random: () => 0, stallBackoff: { baseMs: 100, capMs: 800 },
    listener: { onDone: () => {}, onReply: () => {}, onRetry: () => {}, onStall: (report) => stalls.push(report) },
    waiting: {
      hold: (bytes) => {
        waited.push(bytes);
        return () => {};
      },
    },
  };
  const result = await dispatchRecord(record, () => route, deps, new AbortController().signal);
  return { result, sent, stalls, waited };
}

function assertOwn(bytes: Buffer | null | undefined, response: ArrayBufferLike, what: string): void {
  assert.ok(bytes !== null && bytes !== undefined, `${what} is there`);
  assert.notEqual(bytes.buffer, response, `${what} is still a view of the response`);
  assert.ok(bytes.buffer.byteLength <= Buffer.poolSize, `${what} keeps ${bytes.buffer.byteLength} bytes alive`);
}

function assertRecordOwnsItsBytes(record: ViewRecord, response: ArrayBufferLike): void {
  assertOwn(record.value, response, 'the value');
  assertOwn(record.key, response, 'the key');
  for (const name in record.headers) assertOwn(record.headers[name], response, `header ${name}`);
}

describe('dispatch: a waiting record keeps only its own bytes', () => {
  test('no wait: nothing is copied, the request body is the record value itself', async () => {
    const { record, response } = recordInResponse(event());
    const value = record.value;
    const out = await dispatch(record, {}, null, () => assert.fail('no wait expected'));
    assert.equal(out.result, 'done');
    assert.equal(record.value, value);
    assert.equal(out.sent[0]!.body, value);
    assert.equal(out.sent[0]!.body!.buffer, response);
  });

  test('retry backoff (round 0): from the first wait the record, the event and the request own their bytes; the same body is sent again', async () => {
    const { record, response } = recordInResponse(event());
    const body = Buffer.from(record.value!);
    let checked = 0;
    const out = await dispatch(record, { [SUBSCRIBER]: [503, 503] }, makeEgressConfig({ retry: 3, backoffPolicy: 'linear', backoffDelayMs: 10 }), () => {
      checked++;
      assertRecordOwnsItsBytes(record, response);
    });
    assert.equal(out.result, 'done');
    assert.equal(checked, 2);
    assert.equal(record.doneCalls, 1);
    assert.equal(out.sent.length, 3);
    // The first attempt went before any wait, from the view; the retries from the copy.
    assert.equal(out.sent[0]!.body!.buffer, response);
    for (const again of out.sent.slice(1)) {
      assertOwn(again.body, response, 'a retried request body');
      assert.deepEqual(again.body, body);
      assert.deepEqual(again.headers, out.sent[0]!.headers);
    }
    // The event's copy is the record's: counted once, key and headers included.
    assert.equal(out.sent[1]!.body, record.value);
    const headerBytes = Object.entries(record.headers).reduce((n, [name, v]) => n + name.length + v.length, 0);
    assert.equal(out.waited[0], body.length + record.key!.length + headerBytes + 'no'.length);
  });

  test('held rounds with a failing dead-letter sink: the held event and the dead letter own their bytes and carry the same data', async () => {
    const { record, response } = recordInResponse(event());
    const data = Buffer.from(record.value!);
    const out = await dispatch(record, { [SUBSCRIBER]: [400, 400, 400], [DLS]: [500, 500, 500] }, makeEgressConfig({ retry: 0, deadLetter: DLS }), (_sent, stalls) => {
      assertRecordOwnsItsBytes(record, response);
      assertOwn(stalls.at(-1)!.event.data, response, 'the held event\'s data');
    });
    assert.equal(out.result, 'done');
    assert.equal(out.stalls.length, 3);
    const deadLetters = out.sent.filter((s) => s.url === DLS);
    assert.equal(deadLetters.length, 3);
    for (const dead of deadLetters) assert.deepEqual(dead.body, data);
    for (const dead of deadLetters.slice(1)) assertOwn(dead.body, response, 'a dead letter sent after a wait');
    const delivered = out.sent.filter((s) => s.url === SUBSCRIBER);
    for (const again of delivered.slice(1)) assert.deepEqual(again.body, data);
  });

  test('structured content mode: the event data decoded as a view of the value is copied too', async () => {
    const { record, response } = recordInResponse(event(), 'structured');
    const out = await dispatch(record, { [SUBSCRIBER]: [400, 200] }, null, (_sent, stalls) => {
      assertRecordOwnsItsBytes(record, response);
      assertOwn(stalls[0]!.event.data, response, 'the event data');
    }, 'structured');
    assert.equal(out.result, 'done');
    assert.deepEqual(out.sent[1]!.body, out.sent[0]!.body);
  });

  test('while it waits, nothing the dispatch holds keeps the response alive (garbage-collected)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    let collected: boolean | undefined;
    // Made in a function of its own, so that this test keeps no reference to the response.
    const made = (): { record: ViewRecord; response: WeakRef<ArrayBufferLike> } => {
      const { record, response } = recordInResponse(event());
      return { record, response: new WeakRef(response) };
    };
    const { record, response } = made();
    const out = await dispatch(record, { [SUBSCRIBER]: [503, 503] }, makeEgressConfig({ retry: 2, backoffPolicy: 'linear', backoffDelayMs: 10 }), async (sent) => {
      // Only the second wait: the first request (sent from the views) is in `sent`; drop it.
      if (sent.length < 2) return;
      sent.splice(0, 1);
      await new Promise((resolve) => setImmediate(resolve));
      gc();
      collected = response.deref() === undefined;
    });
    assert.equal(out.result, 'done');
    assert.equal(collected, true, 'the 1 MiB response was still reachable while the record waited');
  });
});
