import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Token } from '../../../../core/cesql/lexer.js';
import { tokenize } from '../../../../core/cesql/lexer.js';

/** Compact form of a token list: `kw:AND`, `id:type`, `fn:CONCAT_WS`, `int:10`, `str:abc`, `(`. */
function shapes(input: string): string[] {
  const result = tokenize(input);
  assert.ok(result.ok, result.ok ? '' : result.error.message);
  return result.tokens.map((token: Token) => {
    switch (token.type) {
      case 'keyword':
        return `kw:${token.keyword}`;
      case 'identifier':
        return `id:${token.name}`;
      case 'functionName':
        return `fn:${token.name}`;
      case 'integer':
        return `int:${token.digits}`;
      case 'string':
        return `str:${token.value}`;
      case 'punctuator':
        return token.punctuator;
      case 'end':
        return 'end';
      default:
        return assert.fail('unknown token');
    }
  });
}

describe('CESQL lexer', () => {
  const cases: [string, string[]][] = [
    ['TRUE and fAlSe', ['kw:TRUE', 'kw:AND', 'kw:FALSE', 'end']],
    ['not Like exists In xor oR', ['kw:NOT', 'kw:LIKE', 'kw:EXISTS', 'kw:IN', 'kw:XOR', 'kw:OR', 'end']],
    // Attribute names fold to lower case (CloudEvents names are lower case; the kit has EXISTS SOURCE).
    ['SOURCE myExt1 1abc', ['id:source', 'id:myext1', 'id:1abc', 'end']],
    ['concat_ws(x)', ['fn:CONCAT_WS', '(', 'id:x', ')', 'end']],
    // Signs are separate tokens: the parser folds them, so 4-1 is a subtraction.
    ['4-1', ['int:4', '-', 'int:1', 'end']],
    ['-2147483648', ['-', 'int:2147483648', 'end']],
    ['a<>b!=c<=d>=e<f>g=h', ['id:a', '<>', 'id:b', '!=', 'id:c', '<=', 'id:d', '>=', 'id:e', '<', 'id:f', '>', 'id:g', '=', 'id:h', 'end']],
    ['(1,2)*3/4%5+6', ['(', 'int:1', ',', 'int:2', ')', '*', 'int:3', '/', 'int:4', '%', 'int:5', '+', 'int:6', 'end']],
    [' \t\r\nx\n', ['id:x', 'end']],
    // Only the delimiter is unescaped; other backslashes stay for LIKE (§2.2, §3.4.3).
    [String.raw`'a\'b' "c\"d"`, ["str:a'b", 'str:c"d', 'end']],
    [String.raw`'a\%b\_c\d'`, [String.raw`str:a\%b\_c\d`, 'end']],
    [String.raw`'say "hi"' "it's"`, ['str:say "hi"', "str:it's", 'end']],
    [String.raw`'a\\'`, [String.raw`str:a\\`, 'end']],
    ["''", ['str:', 'end']],
  ];
  for (const [input, expected] of cases) {
    test(`tokenizes ${JSON.stringify(input)}`, () => assert.deepEqual(shapes(input), expected));
  }

  const errors: [string, number, RegExp][] = [
    ["'abc", 0, /unterminated string literal/],
    ['x = "abc', 4, /unterminated string literal/],
    ['a ! b', 2, /unexpected character '!'/],
    ['a & b', 2, /unexpected character '&'/],
    ['type = 😀', 7, /unexpected character '😀'/],
    ['_abc', 0, /invalid name '_abc'/],
    ['ab_1', 0, /invalid name 'ab_1'/],
  ];
  for (const [input, position, message] of errors) {
    test(`rejects ${JSON.stringify(input)} at offset ${position}`, () => {
      const result = tokenize(input);
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.equal(result.error.kind, 'parse');
      assert.equal(result.error.position, position);
      assert.match(result.error.message, message);
      assert.match(result.error.message, new RegExp(`at column ${position + 1}$`));
    });
  }
});
