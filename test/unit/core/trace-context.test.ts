import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fromKafkaRecord, toKafkaRecord } from '../../../core/cloudevents/kafka-binding.js';
import {
  isTraceparent, setTraceHeaders, traceHeaders, traceHeadersOfEvent, traceHeadersOfHttp, traceHeadersOfRecord, TRACESTATE_MAX_LENGTH,
} from '../../../core/trace-context.js';

const VALID = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('W3C trace context', () => {
  const cases: [string, string, boolean][] = [
    ['version 00', VALID, true],
    ['not sampled', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00', true],
    ['a later version with more fields', '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra', true],
    ['version 00 with more fields', `${VALID}-extra`, false],
    ['version ff', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', false],
    ['upper-case hex', '00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01', false],
    ['all-zero trace id', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, false],
    ['all-zero parent id', `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`, false],
    ['short trace id', '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01', false],
    ['empty', '', false],
    ['over-long', `01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-${'x'.repeat(300)}`, false],
    // Checked by position: each separator, and a character outside lower-case hex in each field.
    ['a later version, the 56th character not a dash', '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x', false],
    ['a later version with an empty extra field', '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-', true],
    ['no dash after the version', '00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', false],
    ['no dash after the trace id', '00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01', false],
    ['no dash after the parent id', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01', false],
    ['a non-hex version', '0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', false],
    ['a non-hex trace id', '00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01', false],
    ['a non-hex parent id', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b:-01', false],
    ['non-hex flags', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0/', false],
    ['upper-case flags', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A', false],
    ['a trace id of zeroes but one', `00-${'0'.repeat(31)}1-00f067aa0ba902b7-01`, true],
  ];
  for (const [name, value, valid] of cases) {
    test(`traceparent: ${name} is ${valid ? 'valid' : 'invalid'}`, () => assert.equal(isTraceparent(value), valid));
  }

  test('tracestate goes with a valid traceparent only; empty or over-long is dropped', () => {
    assert.deepEqual(traceHeaders(VALID, 'a=1'), { traceparent: VALID, tracestate: 'a=1' });
    assert.deepEqual(traceHeaders(VALID, ''), { traceparent: VALID });
    assert.deepEqual(traceHeaders(VALID, 'a'.repeat(TRACESTATE_MAX_LENGTH + 1)), { traceparent: VALID });
    assert.equal(traceHeaders('garbage', 'a=1'), undefined);
    assert.equal(traceHeaders(42, 'a=1'), undefined);
  });

  test('HTTP: two traceparent headers are invalid; several tracestate headers are one list', () => {
    assert.equal(traceHeadersOfHttp({ traceparent: [VALID, VALID] }), undefined);
    assert.deepEqual(traceHeadersOfHttp({ traceparent: VALID, tracestate: ['a=1', 'b=2'] }), { traceparent: VALID, tracestate: 'a=1,b=2' });
    assert.equal(traceHeadersOfHttp({ 'ce-traceparent': VALID }), undefined);
  });

  test('the CloudEvents extension is read only as an own attribute', () => {
    assert.deepEqual(traceHeadersOfEvent({ attributes: { traceparent: VALID, tracestate: 's=1' } }), { traceparent: VALID, tracestate: 's=1' });
    assert.equal(traceHeadersOfEvent({ attributes: Object.create({ traceparent: VALID }) as Record<string, string> }), undefined);
  });

  test('Kafka: the hop context is a plain header pair, apart from the extension, and not an attribute', () => {
    const hop = { traceparent: VALID, tracestate: 'hop=1' };
    const extension = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const event = { attributes: { specversion: '1.0', id: '1', source: '/s', type: 't', traceparent: extension } };
    for (const mode of ['binary', 'structured'] as const) {
      const record = toKafkaRecord(event, mode, hop);
      const headers = record.headers!;
      assert.equal(headers['traceparent']?.toString(), VALID, mode);
      assert.equal(headers['tracestate']?.toString(), 'hop=1', mode);
      assert.deepEqual(traceHeadersOfRecord(headers), hop, mode);
      const decoded = fromKafkaRecord({ key: null, value: record.value, headers });
      assert.ok(decoded.ok);
      assert.equal(decoded.event.attributes['traceparent'], extension, `${mode}: the extension is unchanged`);
      assert.equal(decoded.event.attributes['tracestate'], undefined, `${mode}: the hop's tracestate is not an attribute`);
    }
    assert.equal(toKafkaRecord(event).headers!['traceparent'], undefined, 'no context given, none written');
  });

  test('setTraceHeaders writes both, or nothing', () => {
    const headers: Record<string, string> = {};
    setTraceHeaders(headers, undefined);
    assert.deepEqual(headers, {});
    setTraceHeaders(headers, { traceparent: VALID });
    assert.deepEqual(headers, { traceparent: VALID });
  });
});
