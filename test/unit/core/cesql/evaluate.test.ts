/**
 * Evaluator table tests for what the conformance kit covers thinly: 32-bit arithmetic, LIKE
 * escapes, casts, the error-value rules, attribute typing, and the built-in functions.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AttributeValue, CloudEvent } from '../../../../core/cloudevents/event.js';
import type { CesqlError, CesqlErrorKind, CesqlValue } from '../../../../core/cesql/index.js';
import { compileCesql, evaluate, parse } from '../../../../core/cesql/index.js';
import { MAX_DEPTH, MAX_NESTING } from '../../../../core/cesql/parser.js';

const BASE: Record<string, AttributeValue> = {
  specversion: '1.0',
  id: 'id-1',
  source: '/orders',
  type: 'com.example.order.created',
};

function event(extra: Record<string, AttributeValue> = {}): CloudEvent {
  return { attributes: { ...BASE, ...extra } };
}

/** [expression, expected value, expected error kind or undefined, extra attributes?] */
type Case = [string, CesqlValue, CesqlErrorKind | undefined, Record<string, AttributeValue>?];

function table(title: string, cases: readonly Case[]): void {
  describe(title, () => {
    for (const [expression, value, errorKind, attributes] of cases) {
      const label = `${expression}  =>  ${JSON.stringify(value)}${errorKind ? ` + ${errorKind}` : ''}`;
      test(label, () => {
        const compiled = compileCesql(expression);
        assert.ok(compiled.ok, compiled.ok ? '' : compiled.error.message);
        const result = compiled.run(event(attributes));
        assert.equal(result.error?.kind, errorKind, result.error?.message);
        assert.equal(result.value, value);
      });
    }
  });
}

table('32-bit Integer arithmetic (§3.1, §3.4.2): overflow saturates and raises a MathError', [
  ['2147483647', 2147483647, undefined],
  ['-2147483648', -2147483648, undefined],
  ['2147483647 + 1', 2147483647, 'math'],
  ['-2147483648 - 1', -2147483648, 'math'],
  ['2147483647 + -2147483648', -1, undefined],
  ['65536 * 32768', 2147483647, 'math'],
  ['65536 * -32768', -2147483648, undefined],
  ['-65536 * 32769', -2147483648, 'math'],
  ['46341 * 46341', 2147483647, 'math'],
  ['-(-2147483648)', 2147483647, 'math'],
  ['-2147483648 / -1', 2147483647, 'math'],
  ['-2147483648 % -1', 0, undefined],
  ['ABS(-2147483648)', 2147483647, 'math'],
  ['ABS(-2147483647)', 2147483647, undefined],
  // Overflow in an operand stops the enclosing operator (fail fast), like any operand error.
  ['(2147483647 + 1) - 1', 0, 'math'],
  ['2147483647 + 1 > 0', false, 'math'],
  // Truncated division: quotient toward zero, remainder takes the dividend's sign.
  ['7 / 2', 3, undefined],
  ['-7 / 2', -3, undefined],
  ['7 / -2', -3, undefined],
  ['-7 % 2', -1, undefined],
  ['7 % -2', 1, undefined],
  ['0 * -5', 0, undefined],
  ['-0', 0, undefined],
  ['1 / 0', 0, 'math'],
  ['0 % 0', 0, 'math'],
  // String -> Integer follows the same 32-bit range (§3.7).
  ["'2147483647' + 0", 2147483647, undefined],
  ["'2147483648' + 0", 0, 'cast'],
  ["'-2147483648' + 0", -2147483648, undefined],
  ["'+12' + 0", 12, undefined],
  ["'007' + 0", 7, undefined],
  ["' 7' + 0", 0, 'cast'],
  ["'1.5' + 0", 0, 'cast'],
  ["'' + 0", 0, 'cast'],
  ["INT('2147483648')", 0, 'cast'],
  ["INT('-2147483648')", -2147483648, undefined],
]);

table('LIKE (§3.4.3): wildcards, escapes, case and code points', [
  ["'abc' LIKE 'abc'", true, undefined],
  ["'abc' LIKE 'ABC'", false, undefined],
  ["'' LIKE ''", true, undefined],
  ["'' LIKE '%'", true, undefined],
  ["'' LIKE '_'", false, undefined],
  ["'abc' LIKE '%%%'", true, undefined],
  ["'abc' LIKE '___'", true, undefined],
  ["'abc' LIKE '__'", false, undefined],
  ["'abc' LIKE '_%_'", true, undefined],
  ["'ab' LIKE 'a%b%'", true, undefined],
  ["'aXbXbXc' LIKE 'a%b_c'", true, undefined],
  ["'mississippi' LIKE '%iss%ipp%'", true, undefined],
  ["'mississippi' LIKE 'm%issip_i'", true, undefined],
  ["'mississippi' LIKE 'm%issip_'", false, undefined],
  ["'aba' LIKE 'ab%ba'", false, undefined],
  ["'abba' LIKE 'ab%ba'", true, undefined],
  // Escapes: \% and \_ are literal; a backslash before anything else is itself.
  [String.raw`'100%' LIKE '100\%'`, true, undefined],
  [String.raw`'1000' LIKE '100\%'`, false, undefined],
  [String.raw`'a_c' LIKE 'a\_c'`, true, undefined],
  [String.raw`'abc' LIKE 'a\_c'`, false, undefined],
  [String.raw`'a\c' LIKE 'a\c'`, true, undefined],
  [String.raw`'a\%' LIKE 'a\\%'`, true, undefined],
  // `_` is one code point: an emoji written as a surrogate pair is one character.
  ["'a😀c' LIKE 'a_c'", true, undefined],
  ["'a😀c' LIKE 'a__c'", false, undefined],
  ["'😀' LIKE '%😀%'", true, undefined],
  // Non-strings are cast to String first.
  ['TRUE LIKE \'t%\'', true, undefined],
  ["-12 LIKE '-1_'", true, undefined],
  // A quote inside the pattern is escaped like in any string literal.
  [String.raw`"it's" LIKE 'it\'s'`, true, undefined],
]);

test('LIKE: a backslash before a closing quote escapes it, so the string runs on', () => {
  // `'a\' LIKE '` is one string literal; what follows it is not an expression.
  const result = parse(String.raw`'a\' LIKE 'a\'`);
  assert.equal(result.ok, false);
  if (!result.ok) assert.equal(result.error.position, 12);
});

table('implicit casts (§3.7)', [
  // `=` takes the right operand's type; IN takes the left operand's type.
  ["5 = '5'", true, undefined],
  ["'5' = 5", true, undefined],
  ["'05' = 5", true, undefined],
  ["5 = '05'", false, undefined],
  ["'abc' = 1", false, 'cast'],
  ["TRUE = 'true'", true, undefined],
  ["TRUE = 'TRUE'", false, undefined],
  ["'TrUe' = TRUE", true, undefined],
  ['TRUE = 1', true, undefined],
  // Integer -> Boolean is not an implicit cast (kit: NOT 10 is a CastError); BOOL() does it.
  ['1 = TRUE', false, 'cast'],
  ['1 AND TRUE', false, 'cast'],
  ['BOOL(1) AND TRUE', true, undefined],
  ["'yes' AND TRUE", false, 'cast'],
  ["'true' AND 'TRUE'", true, undefined],
  // Comparisons other than = and != are Integer only, so strings compare as numbers.
  ["'10' > '9'", true, undefined],
  ["'a' < 'b'", false, 'cast'],
  ["1 IN ('a', 1)", true, 'cast'],
  ["'1' IN (1)", true, undefined],
  ["1 NOT IN ('1', '2')", false, undefined],
  ["TRUE IN (1)", false, 'cast'],
  ['5 + TRUE', 6, undefined],
  ['-FALSE', 0, undefined],
]);

table('errors: an operand error gives the zero value, an own error keeps the defined value', [
  ['missing', false, 'missingAttribute'],
  ['missing + 1', 0, 'missingAttribute'],
  ["missing = ''", false, 'missingAttribute'],
  ["missing != ''", false, 'missingAttribute'],
  ['NOT missing', false, 'missingAttribute'],
  ['-missing', 0, 'missingAttribute'],
  ['LENGTH(missing)', 0, 'missingAttribute'],
  ["CONCAT('a', missing)", '', 'missingAttribute'],
  ['missing IN (1)', false, 'missingAttribute'],
  ['1 IN (missing, 1)', false, 'missingAttribute'],
  ['1 IN (1, missing)', true, undefined],
  ['missing OR TRUE', false, 'missingAttribute'],
  ['TRUE OR missing', true, undefined],
  ['FALSE AND missing', false, undefined],
  ['TRUE XOR missing', false, 'missingAttribute'],
  ['EXISTS missing', false, undefined],
  ['NOT EXISTS missing', true, undefined],
  ['NOT 10', true, 'cast'],
  ["'5avc4' + 10", 10, 'cast'],
  ["LEFT('abc', 'x')", '', 'cast'],
  ['NOSUCH(1)', false, 'missingFunction'],
  ['NOSUCH(missing)', false, 'missingFunction'],
  ["LENGTH('a', 'b')", false, 'missingFunction'],
  // The first error is the one reported.
  ["'a' + 'b'", 0, 'cast'],
  ['1 / 0 + missing', 0, 'math'],
]);

table('context attributes (§3.2)', [
  ['type', 'com.example.order.created', undefined],
  ['TYPE', 'com.example.order.created', undefined],
  ['myint', 42, undefined, { myint: 42 }],
  ['myint + 1', 43, undefined, { myint: 42 }],
  ["myint = '42'", true, undefined, { myint: 42 }],
  ['mybool', true, undefined, { mybool: true }],
  ['NOT mybool', false, undefined, { mybool: true }],
  // Binary-mode events carry strings; implicit casts make them usable as numbers.
  ['hop < ttl', true, undefined, { hop: '9', ttl: '10' }],
  ["hop < '10'", true, undefined, { hop: '9' }],
  // A number that is not a 32-bit integer is not a CESQL Integer: it is represented as a String.
  ['ratio', '1.5', undefined, { ratio: 1.5 }],
  ['big', '4294967296', undefined, { big: 4294967296 }],
  // Only the event's own attributes exist, not Object.prototype's.
  ['EXISTS constructor', false, undefined],
  ['constructor', false, 'missingAttribute'],
  ['EXISTS constructor', true, undefined, { constructor: 'x' }],
  ['EXISTS empty', true, undefined, { empty: '' }],
]);

table('case-insensitive keywords and function names (§2)', [
  ['tRuE AnD NoT fAlSe', true, undefined],
  ["lower('ABC') = 'abc'", true, undefined],
  ["Concat_Ws('-', 'a', 'b')", 'a-b', undefined],
  ["'a' nOt LiKe 'b'", true, undefined],
  ['1 nOt In (2, 3)', true, undefined],
  ['exists TYPE', true, undefined],
  ["'aBc' = 'abc'", false, undefined],
]);

table('built-in functions (§3.5)', [
  ["LENGTH('😀x')", 2, undefined],
  ["LENGTH('héllo')", 5, undefined],
  ['LENGTH(12345)', 5, undefined],
  ["CONCAT(1, TRUE, 'x')", '1truex', undefined],
  ["CONCAT_WS(', ', 'a')", 'a', undefined],
  ["CONCAT_WS('', 'a', 'b')", 'ab', undefined],
  ["CONCAT_WS(1, 'a', 'b')", 'a1b', undefined],
  ["LOWER('ÀÉ')", 'àé', undefined],
  ["UPPER('straße')", 'STRASSE', undefined],
  // TRIM removes Unicode White_Space (incl. NEL, NBSP, ideographic space), nothing else.
  ["TRIM('\u0085\u00a0\u3000 a b \t\n')", 'a b', undefined],
  ["TRIM('\ufeffa')", '\ufeffa', undefined],
  ["TRIM('\u0001a\u0001')", '\u0001a\u0001', undefined],
  ["LEFT('a😀c', 2)", 'a😀', undefined],
  ["LEFT('abc', 0)", '', undefined],
  ["RIGHT('a😀c', 2)", '😀c', undefined],
  ["RIGHT('abc', 0)", '', undefined],
  ["SUBSTRING('abcdef', 6)", 'f', undefined],
  ["SUBSTRING('abcdef', -6)", 'abcdef', undefined],
  ["SUBSTRING('abcdef', 7)", '', 'functionEvaluation'],
  ["SUBSTRING('abcdef', -7)", '', 'functionEvaluation'],
  ["SUBSTRING('abcdef', 2, 0)", '', undefined],
  ["SUBSTRING('abcdef', 2, -1)", '', 'functionEvaluation'],
  ["SUBSTRING('abcdef', -2, 10)", 'ef', undefined],
  ["SUBSTRING('a😀cdef', 2, 2)", '😀c', undefined],
  ["SUBSTRING('', 0)", '', undefined],
  ["SUBSTRING('', 1)", '', 'functionEvaluation'],
  ['ABS(-5)', 5, undefined],
  ["ABS('-5')", 5, undefined],
  ["INT('+7')", 7, undefined],
  ["INT(' 7')", 0, 'cast'],
  ["BOOL('True')", true, undefined],
  ["BOOL('')", false, 'cast'],
  ['BOOL(0)', false, undefined],
  ["STRING(-0)", '0', undefined],
  ['STRING(2147483647)', '2147483647', undefined],
  // IS_BOOL / IS_INT, as the kit had them before v1.
  ["IS_BOOL('true')", true, undefined],
  ["IS_BOOL('FALSE')", true, undefined],
  ['IS_BOOL(1)', false, undefined],
  ["IS_BOOL('abc')", false, undefined],
  ['IS_BOOL(TRUE)', true, undefined],
  ["IS_INT('-1')", true, undefined],
  ["IS_INT('1')", true, undefined],
  ['IS_INT(TRUE)', false, undefined],
  ["IS_INT('abc')", false, undefined],
  ["IS_INT('2147483648')", false, undefined],
  ['IS_INT(5)', true, undefined],
  ["IS_STRING('ABC')", false, 'missingFunction'],
]);

describe('evaluation results and the filter predicate', () => {
  test('evaluate(ast, event) is the one-shot form of compileCesql().run', () => {
    const parsed = parse("type LIKE 'com.example.%'");
    assert.ok(parsed.ok);
    assert.deepEqual(evaluate(parsed.ast, event()), { value: true });
  });

  test('a result without error has no error property; with one, it names kind, message and position', () => {
    const compiled = compileCesql('1 + missing');
    assert.ok(compiled.ok);
    const result = compiled.run(event());
    assert.equal(result.value, 0);
    const error = result.error as CesqlError & { kind: 'missingAttribute' };
    assert.equal(error.kind, 'missingAttribute');
    assert.equal(error.attribute, 'missing');
    assert.equal(error.position, 4);
    assert.match(error.message, /attribute 'missing' at column 5 is not in the event/);
    assert.deepEqual(Object.keys(compiled.run(event({ missing: 1 }))), ['value']);
  });

  test('matches() is true only for Boolean TRUE without error, and reports why not', () => {
    const cases: [string, Record<string, AttributeValue>, boolean, string | undefined][] = [
      ["type = 'com.example.order.created'", {}, true, undefined],
      ["type = 'other'", {}, false, undefined],
      ["myext = 'x'", {}, false, 'missingAttribute'],
      ["myext = 'x'", { myext: 'x' }, true, undefined],
      ['NOT 10', {}, false, 'cast'],
      ['type', {}, false, 'generic'],
      ['LENGTH(type)', {}, false, 'generic'],
      ['mybool', { mybool: true }, true, undefined],
      ["mybool", { mybool: 'TRUE' }, false, 'generic'],
    ];
    for (const [expression, attributes, expected, errorKind] of cases) {
      const compiled = compileCesql(expression);
      assert.ok(compiled.ok);
      const errors: CesqlError[] = [];
      assert.equal(compiled.matches(event(attributes), (error) => errors.push(error)), expected, expression);
      assert.deepEqual(
        errors.map((error) => error.kind),
        errorKind === undefined ? [] : [errorKind],
        expression,
      );
    }
  });

  test('a compiled expression is reusable: no state leaks from one event to the next', () => {
    const compiled = compileCesql("myext = 'x' AND 10 / n > 1");
    assert.ok(compiled.ok);
    assert.deepEqual(compiled.run(event({ myext: 'x', n: '2' })), { value: true });
    assert.equal(compiled.run(event({ myext: 'x', n: '0' })).error?.kind, 'math');
    assert.equal(compiled.run(event({ n: '2' })).error?.kind, 'missingAttribute');
    assert.deepEqual(compiled.run(event({ myext: 'x', n: '5' })), { value: true });
    assert.deepEqual(compiled.run(event({ myext: 'x', n: '10' })), { value: false });
  });

  test('compile-time diagnostics: errors every evaluation would raise', () => {
    const cases: [string, string[]][] = [
      ["type = 'x'", []],
      ['NOSUCH(1) OR TRUE', ['missingFunction']],
      ['CONCAT_WS()', ['missingFunction']],
      ["'abc' + 1", ['cast']],
      ['NOT 10', ['cast']],
      ["x = 'abc' AND x < 'abc'", ['cast']],
      ["LEFT('abc', 'x')", ['cast']],
      ["x IN ('a')", []],
      ["1 IN ('a', '1')", ['cast']],
    ];
    for (const [expression, kinds] of cases) {
      const compiled = compileCesql(expression);
      assert.ok(compiled.ok, expression);
      assert.deepEqual(compiled.diagnostics.map((d) => d.kind), kinds, expression);
    }
  });

  test('resultType is the static type of the expression', () => {
    const cases: [string, string][] = [
      ["type = 'x'", 'Boolean'],
      ['type', 'Any'],
      ['1 + 1', 'Integer'],
      ["LOWER('A')", 'String'],
      ['NOSUCH()', 'Boolean'],
      ['EXISTS x', 'Boolean'],
    ];
    for (const [expression, type] of cases) {
      const compiled = compileCesql(expression);
      assert.ok(compiled.ok);
      assert.equal(compiled.resultType, type, expression);
    }
  });

  test('nothing throws on arbitrary input', () => {
    const inputs = ['', ')', '(((', "'", '"', '\\', 'a b c', 'NOT', '- -', '1 +', 'x LIKE', 'IN', '😀', '\u0000', 'a'.repeat(10000)];
    for (const input of inputs) {
      const compiled = compileCesql(input);
      if (compiled.ok) compiled.run(event());
    }
  });

  test('nesting up to the limits parses and evaluates', () => {
    const nested = `${'('.repeat(MAX_NESTING - 1)}1${' + 1)'.repeat(MAX_NESTING - 1)}`;
    const compiledNested = compileCesql(nested);
    assert.ok(compiledNested.ok, compiledNested.ok ? '' : compiledNested.error.message);
    assert.deepEqual(compiledNested.run(event()), { value: MAX_NESTING });

    const chain = Array.from({ length: MAX_DEPTH - 1 }, (_, i) => `id = 'x${i}'`).join(' OR ');
    const compiledChain = compileCesql(chain);
    assert.ok(compiledChain.ok, compiledChain.ok ? '' : compiledChain.error.message);
    assert.deepEqual(compiledChain.run(event({ id: `x${MAX_DEPTH - 2}` })), { value: true });
  });

  test('nesting beyond the limits is a parse error, never a stack overflow', () => {
    const cases: [string, RegExp][] = [
      [`${'('.repeat(100_000)}1${')'.repeat(100_000)}`, /nested too deeply/],
      [`${'NOT '.repeat(100_000)}TRUE`, /nested too deeply/],
      [`${'- '.repeat(100_000)}1`, /nested too deeply/],
      [`${'LOWER('.repeat(100_000)}'a'${')'.repeat(100_000)}`, /nested too deeply/],
      [Array.from({ length: 100_000 }, () => '1').join(' + '), /too deep/],
      [Array.from({ length: MAX_DEPTH + 1 }, () => 'a').join(' OR '), /too deep/],
    ];
    for (const [expression, message] of cases) {
      const compiled = compileCesql(expression);
      assert.equal(compiled.ok, false);
      if (!compiled.ok) {
        assert.equal(compiled.error.kind, 'parse');
        assert.match(compiled.error.message, message);
      }
    }
  });
});
