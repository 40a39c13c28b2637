import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse } from '../../../../core/cesql/parser.js';
import type { Expr } from '../../../../core/cesql/types.js';

/** Fully parenthesised rendering of an AST, to check grouping and precedence. */
function show(expr: Expr): string {
  switch (expr.kind) {
    case 'literal':
      return typeof expr.value === 'string' ? `'${expr.value}'` : String(expr.value);
    case 'attribute':
      return expr.name;
    case 'exists':
      return `(EXISTS ${expr.name})`;
    case 'not':
      return `(NOT ${show(expr.operand)})`;
    case 'negate':
      return `(-${show(expr.operand)})`;
    case 'binary':
      return `(${show(expr.left)} ${expr.operator} ${show(expr.right)})`;
    case 'like':
      return `(${show(expr.operand)}${expr.negated ? ' NOT' : ''} LIKE '${expr.pattern}')`;
    case 'in':
      return `(${show(expr.operand)}${expr.negated ? ' NOT' : ''} IN [${expr.set.map(show).join(', ')}])`;
    case 'call':
      return `${expr.name}(${expr.args.map(show).join(', ')})`;
    default:
      return assert.fail('unknown node');
  }
}

function shape(expression: string): string {
  const result = parse(expression);
  assert.ok(result.ok, result.ok ? '' : result.error.message);
  return show(result.ast);
}

describe('CESQL parser: precedence and grouping (§3.6)', () => {
  const cases: [string, string][] = [
    ['1 + 2 * 3', '(1 + (2 * 3))'],
    ['1 - 2 - 3', '((1 - 2) - 3)'],
    ['8 / 4 % 3 * 2', '(((8 / 4) % 3) * 2)'],
    ['1 + 2 = 3', '((1 + 2) = 3)'],
    ['a = 1 AND b = 2', '((a = 1) AND (b = 2))'],
    // AND, OR and XOR share one level and group left to right (§3.6).
    ['a OR b AND c', '((a OR b) AND c)'],
    ['a AND b OR c', '((a AND b) OR c)'],
    ['a XOR b AND c OR d', '(((a XOR b) AND c) OR d)'],
    ['a OR (b AND c)', '(a OR (b AND c))'],
    // Unary operators bind tightest, above LIKE and IN and every binary operator.
    ['NOT a = b', '((NOT a) = b)'],
    ['NOT (a = b)', '(NOT (a = b))'],
    ['NOT a LIKE \'x\'', "((NOT a) LIKE 'x')"],
    ['-a * b', '((-a) * b)'],
    ['NOT NOT TRUE', '(NOT (NOT true))'],
    ['NOT EXISTS a', '(NOT (EXISTS a))'],
    // LIKE and IN bind tighter than arithmetic.
    ["a + b LIKE '1%'", "(a + (b LIKE '1%'))"],
    ["a NOT LIKE 'x' AND b NOT IN (1, 2)", "((a NOT LIKE 'x') AND (b NOT IN [1, 2]))"],
    ["a LIKE 'x' IN (TRUE)", "((a LIKE 'x') IN [true])"],
    // Signs fold into integer literals (§2.2), including the most negative Integer.
    ['-2147483648', '-2147483648'],
    ['+5', '5'],
    ['4-1', '(4 - 1)'],
    ['4 - -1', '(4 - -1)'],
    ['--10', '(--10)'],
    ["-'10'", "(-'10')"],
    ['-(1)', '(-1)'],
    // Keywords and function names are case-insensitive; attribute names fold to lower case.
    ['int(hop) < INT(ttl) and Int(HOP) < 1000', '((INT(hop) < INT(ttl)) AND (INT(hop) < 1000))'],
    ['concat_ws(",", a, b)', "CONCAT_WS(',', a, b)"],
    ['CONCAT()', 'CONCAT()'],
    ['EXISTS SOURCE', '(EXISTS source)'],
    ['(((TRUE)))', 'true'],
    ["x IN (1, 'a', y, LOWER(z))", "(x IN [1, 'a', y, LOWER(z)])"],
  ];
  for (const [expression, expected] of cases) {
    test(`${expression}  =>  ${expected}`, () => assert.equal(shape(expression), expected));
  }
});

describe('CESQL parser: errors carry their position', () => {
  const cases: [string, number, RegExp][] = [
    ['ABC(', 4, /expected an expression|end of expression/],
    ['(1 + 2', 6, /expected '\)' to close the '\(' at column 1/],
    ['TRUE AND', 8, /unexpected end of expression/],
    ['', 0, /unexpected end of expression/],
    ['1 2', 2, /unexpected integer 2 after the end of the expression/],
    ["x LIKE 123", 7, /pattern of LIKE must be a string literal/],
    ['x LIKE y', 7, /pattern of LIKE must be a string literal/],
    ['x IN ()', 6, /set of IN must contain at least one value/],
    ['x IN 1', 5, /expected '\(' to open the set of IN/],
    ['x IN (1, 2', 10, /expected '\)' to close the set of IN/],
    ['x NOT = 1', 6, /expected LIKE or IN after NOT/],
    ['EXISTS 1', 7, /expected an attribute name after EXISTS/],
    ['EXISTS (a)', 7, /expected an attribute name after EXISTS/],
    ['2147483648', 0, /outside the 32-bit range/],
    ['-2147483649', 0, /outside the 32-bit range/],
    ['1 + 99999999999999999999', 4, /outside the 32-bit range/],
    ["+'a'", 1, /'\+' must be followed by an integer literal/],
    ['a1(2)', 0, /not a valid function name/],
    ['my_func', 0, /not a valid attribute name/],
    ['LOWER(a, )', 9, /expected an expression but found '\)'/],
    ["'it''s'", 4, /unexpected string/],
    ['a = = b', 4, /expected an expression but found '='/],
    ['AND', 0, /expected an expression but found keyword AND/],
  ];
  for (const [expression, position, message] of cases) {
    test(`${JSON.stringify(expression)} fails at offset ${position}`, () => {
      const result = parse(expression);
      assert.equal(result.ok, false, 'expected a parse error');
      if (result.ok) return;
      assert.equal(result.error.kind, 'parse');
      assert.match(result.error.message, message);
      assert.equal(result.error.position, position);
      assert.match(result.error.message, new RegExp(`at column ${position + 1}$`));
    });
  }
});

describe('CESQL parser: warnings for legal but easily misread expressions', () => {
  const cases: [string, RegExp | undefined][] = [
    ['a OR b AND c', /OR and AND are mixed without parentheses/],
    ['a AND b AND c', undefined],
    ['(a OR b) AND c', undefined],
    ['NOT a = b', /NOT at column 1 applies only to its operand/],
    ["NOT type LIKE 'x%'", /NOT at column 1 applies only to its operand/],
    ['NOT a IN (1)', /NOT at column 1/],
    ['NOT (a = b)', undefined],
    ["type NOT LIKE 'x%'", undefined],
    ['(NOT a) = b', undefined],
  ];
  for (const [expression, warning] of cases) {
    test(`${expression}: ${warning === undefined ? 'no warning' : 'warns'}`, () => {
      const result = parse(expression);
      assert.ok(result.ok);
      if (warning === undefined) assert.deepEqual(result.warnings, []);
      else assert.match(result.warnings[0]?.message ?? '', warning);
    });
  }
});
