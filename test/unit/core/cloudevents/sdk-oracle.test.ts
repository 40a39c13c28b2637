/**
 * The `cloudevents` SDK (v10) as an oracle: on valid messages it and our codec must read the same
 * attributes and data; on messages the SDK's validate() rejects, our codec must reject too. The
 * last table lists invalid events the SDK accepts and we reject (the reason we wrote our own).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HTTP, type CloudEventV1 } from 'cloudevents';
import { decodeHttp, type HttpHeaders } from '../../../../core/cloudevents/http-binding.js';

const ce = { 'ce-specversion': '1.0', 'ce-id': 'A234', 'ce-source': '/mycontext', 'ce-type': 'com.example.someevent' };
const structured = { 'content-type': 'application/cloudevents+json' };
const minimal = { specversion: '1.0', id: 'A234', source: '/mycontext', type: 'com.example.someevent' };
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

type Message = { name: string; headers: HttpHeaders; body: Buffer };

function sdkDecode(m: Message): { ok: true; event: CloudEventV1<unknown> } | { ok: false } {
  try {
    // The SDK expects the body as text (it reads a Buffer as an array of numbers).
    const decoded = HTTP.toEvent({ headers: { ...m.headers }, body: m.body.length === 0 ? undefined : m.body.toString('utf8') });
    const event = (Array.isArray(decoded) ? decoded[0] : decoded) as CloudEventV1<unknown> & { validate(): boolean };
    event.validate();
    return { ok: true, event };
  } catch {
    return { ok: false };
  }
}

const valid: Message[] = [
  { name: 'binary minimal', headers: ce, body: Buffer.alloc(0) },
  { name: 'binary with extensions and time', headers: { ...ce, 'ce-time': '2018-04-05T17:31:00Z', 'ce-myext': 'v', 'ce-subject': 'sub' }, body: Buffer.alloc(0) },
  { name: 'binary JSON data', headers: { ...ce, 'content-type': 'application/json' }, body: Buffer.from('{"a":1}') },
  { name: 'structured minimal', headers: structured, body: json(minimal) },
  { name: 'structured JSON data', headers: structured, body: json({ ...minimal, datacontenttype: 'application/json', data: { a: [1, 'x'] } }) },
  { name: 'structured extensions', headers: structured, body: json({ ...minimal, myext: 'v', subject: 's', dataschema: 'https://example.com/s' }) },
];

const sdkRejects: Message[] = [
  { name: 'binary missing id', headers: { ...ce, 'ce-id': undefined }, body: Buffer.alloc(0) },
  { name: 'binary source with a space', headers: { ...ce, 'ce-source': 'a b' }, body: Buffer.alloc(0) },
  { name: 'structured missing source', headers: structured, body: json({ ...minimal, source: undefined }) },
  { name: 'structured empty type', headers: structured, body: json({ ...minimal, type: '' }) },
  { name: 'structured bad extension name', headers: structured, body: json({ ...minimal, my_ext: 'x' }) },
];

// Invalid per the spec, accepted by the SDK's toEvent + validate().
const stricterThanSdk: Message[] = [
  { name: 'binary 0.3 event with no source', headers: { ...ce, 'ce-specversion': '0.3', 'ce-source': undefined }, body: Buffer.alloc(0) },
  // The SDK replaces a time it cannot parse with the current time.
  { name: 'binary time that is not a time', headers: { ...ce, 'ce-time': 'not a time' }, body: Buffer.alloc(0) },
  { name: 'binary percent-encoded invalid UTF-8', headers: { ...ce, 'ce-subject': '%FF' }, body: Buffer.alloc(0) },
  { name: 'binary 30 February', headers: { ...ce, 'ce-time': '2019-02-30T00:00:00Z' }, body: Buffer.alloc(0) },
  { name: 'structured fractional extension', headers: structured, body: json({ ...minimal, ext: 1.5 }) },
];

describe('SDK oracle: valid messages read the same', () => {
  for (const m of valid) {
    test(m.name, () => {
      const sdk = sdkDecode(m);
      assert.ok(sdk.ok, 'the SDK accepts it');
      const ours = decodeHttp(m.headers, m.body);
      assert.ok(ours.ok, ours.ok ? '' : ours.error.message);
      const event = ours.events[0]!;
      for (const [name, value] of Object.entries(event.attributes)) {
        if (name === 'datacontenttype' && sdk.event.datacontenttype === undefined) continue; // we make the JSON default explicit
        if (name === 'time') {
          // The SDK rewrites the time through Date (adding milliseconds); the instant must agree.
          assert.equal(Date.parse(String(sdk.event.time)), Date.parse(String(value)));
          continue;
        }
        assert.equal(String(sdk.event[name]), String(value), name);
      }
      const sdkData = sdk.event.data;
      if (sdkData === undefined) assert.equal(event.data, undefined);
      else assert.deepEqual(JSON.parse(event.data!.toString()), typeof sdkData === 'string' ? JSON.parse(sdkData) : sdkData);
    });
  }
});

describe('SDK oracle: what the SDK rejects, we reject', () => {
  for (const m of sdkRejects) {
    test(m.name, () => {
      assert.equal(sdkDecode(m).ok, false, 'the SDK rejects it');
      assert.equal(decodeHttp(m.headers, m.body).ok, false);
    });
  }
});

describe('SDK oracle: invalid events the SDK accepts and we reject', () => {
  for (const m of stricterThanSdk) {
    test(m.name, () => {
      assert.equal(sdkDecode(m).ok, true, 'the SDK accepts it');
      const ours = decodeHttp(m.headers, m.body);
      assert.equal(ours.ok, false);
      assert.equal(!ours.ok && ours.error.code, 'EVENT_INVALID');
    });
  }
});
