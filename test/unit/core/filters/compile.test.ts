import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AttributeValue, CloudEvent } from '../../../../core/cloudevents/event.js';
import type { CesqlError } from '../../../../core/cesql/index.js';
import { compileFilter } from '../../../../core/filters/compile.js';
import type { Filter } from '../../../../core/filters/types.js';

function event(attributes: Record<string, AttributeValue>): CloudEvent {
  return {
    attributes: { specversion: '1.0', id: 'id-1', source: '/orders/eu', type: 'com.example.order.created', ...attributes },
  };
}

const ORDER = event({});
const WITH_EXT = event({ region: 'eu-west-1', priority: '5' });
const TYPED = event({ count: 5, flag: true, ratio: 1.5 });

/** [title, filter, event, passes] */
type Row = [string, Filter | null, CloudEvent, boolean];

function table(title: string, rows: readonly Row[]): void {
  describe(title, () => {
    for (const [name, filter, input, expected] of rows) {
      test(`${name} -> ${expected ? 'passes' : 'does not pass'}`, () => {
        assert.equal(compileFilter(filter)(input), expected);
      });
    }
  });
}

const attributes = (map: Record<string, string>): Filter => ({ kind: 'attributes', attributes: map });
const exact = (map: Record<string, string>): Filter => ({ kind: 'exact', attributes: map });
const prefix = (map: Record<string, string>): Filter => ({ kind: 'prefix', attributes: map });
const suffix = (map: Record<string, string>): Filter => ({ kind: 'suffix', attributes: map });
const all = (...filters: Filter[]): Filter => ({ kind: 'all', filters });
const any = (...filters: Filter[]): Filter => ({ kind: 'any', filters });
const not = (filter: Filter): Filter => ({ kind: 'not', filter });
const cesql = (expression: string): Filter => ({ kind: 'cesql', expression });

table('no filter', [
  ['null', null, ORDER, true],
  ['null, any event', null, event({ anything: 'x' }), true],
]);

table('legacy attributes', [
  ['type equal', attributes({ type: 'com.example.order.created' }), ORDER, true],
  ['type differs', attributes({ type: 'com.example.order.deleted' }), ORDER, false],
  ['case-sensitive', attributes({ type: 'COM.EXAMPLE.ORDER.CREATED' }), ORDER, false],
  ['all entries must hold', attributes({ type: 'com.example.order.created', source: '/orders/eu' }), ORDER, true],
  ['one entry fails', attributes({ type: 'com.example.order.created', source: '/orders/us' }), ORDER, false],
  ['"" requires presence: present', attributes({ region: '' }), WITH_EXT, true],
  ['"" requires presence: absent', attributes({ region: '' }), ORDER, false],
  ['"" with another entry', attributes({ region: '', priority: '5' }), WITH_EXT, true],
  ['absent attribute', attributes({ region: 'eu-west-1' }), ORDER, false],
  ['empty map filters nothing', attributes({}), ORDER, true],
  ['number in canonical form', attributes({ count: '5' }), TYPED, true],
  ['number not canonical', attributes({ count: '05' }), TYPED, false],
  ['boolean in canonical form', attributes({ flag: 'true' }), TYPED, true],
  ['boolean not canonical', attributes({ flag: 'TRUE' }), TYPED, false],
  ['non-integer number', attributes({ ratio: '1.5' }), TYPED, true],
  ['Object.prototype is not an attribute', attributes({ constructor: '' }), ORDER, false],
]);

table('exact', [
  ['equal', exact({ type: 'com.example.order.created' }), ORDER, true],
  ['differs', exact({ type: 'com.example.order' }), ORDER, false],
  ['absent', exact({ region: 'eu-west-1' }), ORDER, false],
  ['every entry', exact({ type: 'com.example.order.created', region: 'eu-west-1' }), WITH_EXT, true],
  ['every entry, one fails', exact({ type: 'com.example.order.created', region: 'us' }), WITH_EXT, false],
  ['number', exact({ count: '5' }), TYPED, true],
  ['boolean', exact({ flag: 'true' }), TYPED, true],
  ['boolean mismatch', exact({ flag: 'false' }), TYPED, false],
]);

table('prefix', [
  ['matches', prefix({ type: 'com.example.' }), ORDER, true],
  ['whole value', prefix({ type: 'com.example.order.created' }), ORDER, true],
  ['longer than value', prefix({ type: 'com.example.order.created.v2' }), ORDER, false],
  ['case-sensitive', prefix({ type: 'COM.' }), ORDER, false],
  ['absent', prefix({ region: 'eu' }), ORDER, false],
  ['every entry', prefix({ type: 'com.', source: '/orders' }), ORDER, true],
  ['every entry, one fails', prefix({ type: 'com.', source: '/invoices' }), ORDER, false],
  ['number stringified', prefix({ count: '5' }), TYPED, true],
  ['boolean stringified', prefix({ flag: 'tr' }), TYPED, true],
]);

table('suffix', [
  ['matches', suffix({ type: '.created' }), ORDER, true],
  ['differs', suffix({ type: '.deleted' }), ORDER, false],
  ['absent', suffix({ region: '-1' }), ORDER, false],
  ['every entry', suffix({ type: '.created', source: '/eu' }), ORDER, true],
  ['number stringified', suffix({ ratio: '.5' }), TYPED, true],
]);

table('all / any / not', [
  ['all: both', all(prefix({ type: 'com.' }), suffix({ type: '.created' })), ORDER, true],
  ['all: one fails', all(prefix({ type: 'com.' }), suffix({ type: '.deleted' })), ORDER, false],
  ['all: three', all(prefix({ type: 'com.' }), suffix({ type: '.created' }), exact({ id: 'id-1' })), ORDER, true],
  ['all: three, last fails', all(prefix({ type: 'com.' }), suffix({ type: '.created' }), exact({ id: 'x' })), ORDER, false],
  ['all: empty is true', all(), ORDER, true],
  ['any: first', any(exact({ type: 'com.example.order.created' }), exact({ type: 'x' })), ORDER, true],
  ['any: second', any(exact({ type: 'x' }), exact({ type: 'com.example.order.created' })), ORDER, true],
  ['any: none', any(exact({ type: 'x' }), exact({ type: 'y' })), ORDER, false],
  ['any: third of three', any(exact({ type: 'x' }), exact({ type: 'y' }), exact({ id: 'id-1' })), ORDER, true],
  ['any: empty is false', any(), ORDER, false],
  ['not: negates a pass', not(exact({ type: 'com.example.order.created' })), ORDER, false],
  ['not: negates a fail', not(exact({ type: 'x' })), ORDER, true],
  ['not: absent attribute passes', not(exact({ region: 'eu' })), ORDER, true],
  ['not not', not(not(prefix({ type: 'com.' }))), ORDER, true],
]);

describe('nesting: not inside any inside all', () => {
  // Orders from the EU, except test events, unless they are high priority.
  const filter = all(
    prefix({ source: '/orders/eu' }),
    any(not(exact({ subject: 'test' })), cesql('INT(priority) >= 5')),
  );
  const rows: [string, Record<string, AttributeValue>, boolean][] = [
    ['EU, not a test', {}, true],
    ['EU, test, low priority', { subject: 'test', priority: '1' }, false],
    ['EU, test, high priority', { subject: 'test', priority: '7' }, true],
    ['EU, test, no priority (CESQL error = no)', { subject: 'test' }, false],
    ['US, not a test', { source: '/orders/us' }, false],
    ['US, test, high priority', { source: '/orders/us', subject: 'test', priority: '9' }, false],
  ];
  for (const [name, attributes, expected] of rows) {
    test(`${name} -> ${expected ? 'passes' : 'does not pass'}`, () => {
      assert.equal(compileFilter(filter)(event(attributes)), expected);
    });
  }
});

table('cesql', [
  ['true', cesql("type LIKE 'com.example.%' AND EXISTS source"), ORDER, true],
  ['false', cesql("type = 'x'"), ORDER, false],
  ['binary-mode strings cast to Integer', cesql('priority > 3'), WITH_EXT, true],
  ['typed values', cesql('count = 5 AND flag'), TYPED, true],
  ['missing attribute: does not pass', cesql("region = 'eu-west-1'"), ORDER, false],
  ['missing attribute under not: passes (Knative semantics)', not(cesql("region = 'eu-west-1'")), ORDER, true],
  ['non-Boolean result: does not pass', cesql('type'), ORDER, false],
  ['string "true" result: does not pass', cesql('region'), event({ region: 'true' }), false],
  ['Boolean attribute TRUE: passes', cesql('flag'), TYPED, true],
  ['math error: does not pass', cesql('1 / 0 = 0'), ORDER, false],
  ['unparseable expression fails closed', cesql('type = '), ORDER, false],
]);

describe('hooks', () => {
  test('a CESQL evaluation error is reported with the expression, and the event does not pass', () => {
    const reported: [CesqlError, string][] = [];
    const expression = "region = 'eu-west-1'";
    const predicate = compileFilter(cesql(expression), {
      onEvaluationError: (error, source) => reported.push([error, source]),
    });
    assert.equal(predicate(ORDER), false);
    assert.equal(predicate(WITH_EXT), true);
    assert.equal(reported.length, 1);
    const [error, source] = reported[0] ?? assert.fail();
    assert.equal(error.kind, 'missingAttribute');
    assert.equal(source, expression);
  });

  test('a non-Boolean result is reported as a generic error', () => {
    const kinds: string[] = [];
    const predicate = compileFilter(cesql('LENGTH(type)'), { onEvaluationError: (error) => kinds.push(error.kind) });
    assert.equal(predicate(ORDER), false);
    assert.deepEqual(kinds, ['generic']);
  });

  test('errors inside nested filters reach the hook; short-circuited branches are not evaluated', () => {
    const kinds: string[] = [];
    const predicate = compileFilter(any(exact({ type: 'com.example.order.created' }), cesql('1 / 0 = 0')), {
      onEvaluationError: (error) => kinds.push(error.kind),
    });
    assert.equal(predicate(ORDER), true);
    assert.deepEqual(kinds, []);
    assert.equal(predicate(event({ type: 'other' })), false);
    assert.deepEqual(kinds, ['math']);
  });

  test('an unparseable expression is reported once, at compile time', () => {
    const compileErrors: CesqlError[] = [];
    const predicate = compileFilter(all(exact({ type: 'com.example.order.created' }), cesql("type LIKE 1")), {
      onCompileError: (error) => compileErrors.push(error),
    });
    assert.equal(compileErrors.length, 1);
    assert.equal(compileErrors[0]?.kind, 'parse');
    assert.equal(predicate(ORDER), false);
    assert.equal(compileErrors.length, 1);
  });

  test('no hooks: errors are swallowed, never thrown', () => {
    const predicate = compileFilter(cesql('missing = 1'));
    assert.doesNotThrow(() => predicate(ORDER));
    assert.equal(predicate(ORDER), false);
  });
});

test('a compiled filter is reusable across many events', () => {
  const predicate = compileFilter(all(prefix({ type: 'com.example.' }), cesql("source LIKE '/orders/%'")));
  const events = ['/orders/eu', '/invoices/eu', '/orders/us', '/orders'].map((source) => event({ source }));
  assert.deepEqual(events.map(predicate), [true, false, true, false]);
  assert.deepEqual(events.map(predicate), [true, false, true, false]);
});
