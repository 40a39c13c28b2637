/**
 * CESQL lexer (spec §2). Keywords are case-insensitive (§2); identifiers are folded to lower case
 * because CloudEvents attribute names are lower case (§2.2); function names are folded to upper
 * case (§2.4).
 *
 * Integer literals are lexed without their sign: the parser folds a leading `-`/`+` into the
 * literal, so that `4-1` is a subtraction and `-2147483648` is still a valid literal (§2.2).
 */
import type { CesqlParseError } from './types.js';
import { column } from './types.js';

export type Keyword = 'AND' | 'OR' | 'XOR' | 'NOT' | 'LIKE' | 'EXISTS' | 'IN' | 'TRUE' | 'FALSE';

const KEYWORDS: ReadonlySet<string> = new Set<Keyword>([
  'AND',
  'OR',
  'XOR',
  'NOT',
  'LIKE',
  'EXISTS',
  'IN',
  'TRUE',
  'FALSE',
]);

export type Punctuator =
  | '('
  | ')'
  | ','
  | '+'
  | '-'
  | '*'
  | '/'
  | '%'
  | '='
  | '!='
  | '<>'
  | '<'
  | '<='
  | '>'
  | '>=';

export type Token =
  | { readonly type: 'keyword'; readonly keyword: Keyword; readonly position: number; readonly text: string }
  /** Letters and digits: an attribute name, or a function name when followed by `(`. */
  | { readonly type: 'identifier'; readonly name: string; readonly position: number; readonly text: string }
  /** Letters and `_`, with at least one `_`: only valid as a function name (§2.4). */
  | { readonly type: 'functionName'; readonly name: string; readonly position: number; readonly text: string }
  /** Unsigned digits; the value may still be out of range until the parser applies the sign. */
  | { readonly type: 'integer'; readonly digits: string; readonly position: number; readonly text: string }
  | {
      readonly type: 'string';
      readonly value: string;
      readonly position: number;
      readonly text: string;
    }
  | { readonly type: 'punctuator'; readonly punctuator: Punctuator; readonly position: number; readonly text: string }
  | { readonly type: 'end'; readonly position: number; readonly text: '' };

export type TokenizeResult =
  | { readonly ok: true; readonly tokens: readonly Token[] }
  | { readonly ok: false; readonly error: CesqlParseError };

function parseError(message: string, position: number): CesqlParseError {
  return { kind: 'parse', message: `${message} at column ${column(position)}`, position };
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

const UNDERSCORE = 95;
const BACKSLASH = 92;

/** Splits an expression into tokens; the last token is always `end`. */
export function tokenize(input: string): TokenizeResult {
  const tokens: Token[] = [];
  let i = 0;
  const n = input.length;
  while (i < n) {
    const c = input.charCodeAt(i);
    // Whitespace between tokens: the spec grammar's SPACE rule (space, tab, CR, LF).
    if (c === 32 || c === 9 || c === 10 || c === 13) {
      i++;
      continue;
    }
    const start = i;
    if (isDigit(c) || isLetter(c) || c === UNDERSCORE) {
      let hasLetter = false;
      let hasDigit = false;
      let hasUnderscore = false;
      while (i < n) {
        const d = input.charCodeAt(i);
        if (isLetter(d)) hasLetter = true;
        else if (isDigit(d)) hasDigit = true;
        else if (d === UNDERSCORE) hasUnderscore = true;
        else break;
        i++;
      }
      const text = input.slice(start, i);
      if (!hasLetter && !hasUnderscore) {
        tokens.push({ type: 'integer', digits: text, position: start, text });
      } else if (hasUnderscore) {
        // function-identifier ::= char ( "_" | char )*  (§2.4)
        if (hasDigit || !isLetter(c)) {
          return {
            ok: false,
            error: parseError(
              `invalid name '${text}': attribute names are letters and digits, function names are letters and '_' starting with a letter`,
              start,
            ),
          };
        }
        tokens.push({ type: 'functionName', name: text.toUpperCase(), position: start, text });
      } else {
        const upper = text.toUpperCase();
        if (KEYWORDS.has(upper)) {
          tokens.push({ type: 'keyword', keyword: upper as Keyword, position: start, text });
        } else {
          tokens.push({ type: 'identifier', name: text.toLowerCase(), position: start, text });
        }
      }
      continue;
    }
    if (c === 39 /* ' */ || c === 34 /* " */) {
      const result = readString(input, start, c);
      if (!result.ok) return result;
      tokens.push({ type: 'string', value: result.value, position: start, text: input.slice(start, result.end) });
      i = result.end;
      continue;
    }
    const punctuator = readPunctuator(input, i);
    if (punctuator === undefined) {
      const ch = String.fromCodePoint(input.codePointAt(i) ?? c);
      return { ok: false, error: parseError(`unexpected character '${ch}'`, start) };
    }
    tokens.push({ type: 'punctuator', punctuator, position: start, text: punctuator });
    i += punctuator.length;
  }
  tokens.push({ type: 'end', position: n, text: '' });
  return { ok: true, tokens };
}

type StringResult = { ok: true; value: string; end: number } | { ok: false; error: CesqlParseError };

/**
 * string-literal ::= ( "'" ( [^'] | "\'" )* "'" ) | ( '"' ( [^"] | '\"' )* '"')   (§2.2)
 * Only the delimiter can be escaped; every other backslash stays in the value as written, which
 * is what lets a LIKE pattern carry its own `\%` and `\_` escapes (§3.4.3).
 */
function readString(input: string, start: number, quote: number): StringResult {
  let i = start + 1;
  let value = '';
  let chunkStart = i;
  while (i < input.length) {
    const c = input.charCodeAt(i);
    if (c === BACKSLASH && input.charCodeAt(i + 1) === quote) {
      value += input.slice(chunkStart, i);
      i += 2;
      chunkStart = i - 1; // keep the quote, drop the backslash
      continue;
    }
    if (c === BACKSLASH && input.charCodeAt(i + 1) === BACKSLASH) {
      // A backslash pair is kept as written but consumed as a unit, so `'a\\'` ends at the quote.
      i += 2;
      continue;
    }
    if (c === quote) {
      value += input.slice(chunkStart, i);
      return { ok: true, value, end: i + 1 };
    }
    i++;
  }
  return {
    ok: false,
    error: parseError(`unterminated string literal (missing closing ${String.fromCharCode(quote)})`, start),
  };
}

function readPunctuator(input: string, i: number): Punctuator | undefined {
  const c = input[i];
  const next = input[i + 1];
  switch (c) {
    case '(':
    case ')':
    case ',':
    case '+':
    case '-':
    case '*':
    case '/':
    case '%':
    case '=':
      return c;
    case '!':
      return next === '=' ? '!=' : undefined;
    case '<':
      if (next === '>') return '<>';
      if (next === '=') return '<=';
      return '<';
    case '>':
      return next === '=' ? '>=' : '>';
    default:
      return undefined;
  }
}

/** How a token reads in an error message. */
export function describeToken(token: Token): string {
  switch (token.type) {
    case 'end':
      return 'end of expression';
    case 'string':
      return `string ${token.text}`;
    case 'integer':
      return `integer ${token.text}`;
    case 'keyword':
      return `keyword ${token.keyword}`;
    case 'identifier':
    case 'functionName':
      return `'${token.text}'`;
    case 'punctuator':
      return `'${token.punctuator}'`;
    default: {
      const unreachable: never = token;
      return String(unreachable);
    }
  }
}
