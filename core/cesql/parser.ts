/**
 * CESQL recursive-descent parser (spec §2, precedence §3.6).
 *
 * Precedence, loosest first (§3.6 lists it tightest first):
 *
 *   logic          AND, OR, XOR          one level, left to right (§3.6: "left to right when the
 *                                        precedence is equal")
 *   comparison     = != <> < <= > >=     left to right
 *   additive       + -                   left to right
 *   multiplicative * / %                 left to right
 *   postfix        [NOT] LIKE 'p', [NOT] IN (...)
 *   unary          NOT x, -x             so `NOT a = b` is `(NOT a) = b`, as in the spec grammar
 *   primary        literal, attribute, f(...), EXISTS attr, ( expr )
 *
 * Two constructs are legal but often misread; the parser reports them as warnings: AND/OR/XOR
 * mixed without parentheses, and NOT as the left operand of a comparison, LIKE or IN.
 */
import type { Keyword, Punctuator, Token } from './lexer.js';
import { describeToken, tokenize } from './lexer.js';
import type {
  ArithmeticOperator,
  BinaryOperator,
  CesqlParseError,
  CesqlWarning,
  ComparisonOperator,
  Expr,
  LogicOperator,
} from './types.js';
import { column, INT32_MAX, INT32_MIN } from './types.js';

/**
 * Bounds that keep parsing, compiling and evaluating within the call stack, so that no input can
 * make the engine throw a RangeError. The spec sets no limit; these are far beyond any filter a
 * person writes. Nesting counts parentheses, unary operators, calls and sets; depth is the
 * height of the tree, which a long `a OR b OR c ...` chain also raises.
 */
export const MAX_NESTING = 128;
export const MAX_DEPTH = 1000;

export type ParseResult =
  | { readonly ok: true; readonly ast: Expr; readonly warnings: readonly CesqlWarning[] }
  | { readonly ok: false; readonly error: CesqlParseError };

/** Parses one CESQL expression. Never throws: a syntax error comes back as a value. */
export function parse(expression: string): ParseResult {
  const lexed = tokenize(expression);
  if (!lexed.ok) return lexed;
  const parser = new Parser(lexed.tokens);
  const ast = parser.parseRoot();
  if (ast === undefined) {
    // parseRoot only returns undefined after recording an error.
    return { ok: false, error: parser.error ?? syntaxError('invalid expression', 0) };
  }
  const deepest = deepestNode(ast);
  if (deepest !== undefined) {
    return {
      ok: false,
      error: syntaxError(`expression too deep (more than ${MAX_DEPTH} levels of operators); split it or use IN`, deepest.position),
    };
  }
  return { ok: true, ast, warnings: parser.warnings };
}

/** The first node found below MAX_DEPTH, or undefined. Iterative: the tree may be deep. */
function deepestNode(root: Expr): Expr | undefined {
  const stack: [Expr, number][] = [[root, 1]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [expr, depth] = item;
    if (depth > MAX_DEPTH) return expr;
    for (const child of children(expr)) stack.push([child, depth + 1]);
  }
  return undefined;
}

function children(expr: Expr): readonly Expr[] {
  switch (expr.kind) {
    case 'literal':
    case 'attribute':
    case 'exists':
      return [];
    case 'not':
    case 'negate':
    case 'like':
      return [expr.operand];
    case 'binary':
      return [expr.left, expr.right];
    case 'in':
      return [expr.operand, ...expr.set];
    case 'call':
      return expr.args;
    default: {
      const unreachable: never = expr;
      return unreachable;
    }
  }
}

function syntaxError(message: string, position: number): CesqlParseError {
  return { kind: 'parse', message: `${message} at column ${column(position)}`, position };
}

const COMPARISON: Partial<Record<Punctuator, ComparisonOperator>> = {
  '=': '=',
  '!=': '!=',
  '<>': '!=', // same as != (§3.4.2)
  '<': '<',
  '<=': '<=',
  '>': '>',
  '>=': '>=',
};

class Parser {
  private index = 0;
  private nesting = 0;
  error: CesqlParseError | undefined;
  readonly warnings: CesqlWarning[] = [];
  /** Nodes written inside parentheses: the warnings only concern unparenthesised ones. */
  private readonly parenthesized = new WeakSet<Expr>();

  constructor(private readonly tokens: readonly Token[]) {}

  parseRoot(): Expr | undefined {
    const expr = this.parseLogic();
    if (expr === undefined) return undefined;
    const token = this.peek();
    if (token.type !== 'end') {
      return this.fail(`unexpected ${describeToken(token)} after the end of the expression`, token.position);
    }
    return expr;
  }

  // -- helpers ---------------------------------------------------------------------------------

  private peek(offset = 0): Token {
    // The token list always ends with `end`, so clamp to it.
    return this.tokens[Math.min(this.index + offset, this.tokens.length - 1)] as Token;
  }

  private next(): Token {
    const token = this.peek();
    if (token.type !== 'end') this.index++;
    return token;
  }

  private isKeyword(token: Token, keyword: Keyword): boolean {
    return token.type === 'keyword' && token.keyword === keyword;
  }

  private isPunctuator(token: Token, punctuator: Punctuator): boolean {
    return token.type === 'punctuator' && token.punctuator === punctuator;
  }

  private fail(message: string, position: number): undefined {
    this.error ??= syntaxError(message, position);
    return undefined;
  }

  private expectPunctuator(punctuator: Punctuator, context: string): boolean {
    const token = this.peek();
    if (this.isPunctuator(token, punctuator)) {
      this.next();
      return true;
    }
    this.fail(`expected '${punctuator}' ${context} but found ${describeToken(token)}`, token.position);
    return false;
  }

  // -- levels ----------------------------------------------------------------------------------

  /** Runs a nested parse, failing instead of recursing past MAX_NESTING. */
  private nested<T>(position: number, parse: () => T | undefined): T | undefined {
    if (this.nesting >= MAX_NESTING) {
      return this.fail(`expression nested too deeply (more than ${MAX_NESTING} levels)`, position);
    }
    this.nesting++;
    try {
      return parse();
    } finally {
      this.nesting--;
    }
  }

  private parseLogic(): Expr | undefined {
    return this.nested(this.peek().position, () => this.parseLogicLevel());
  }

  private parseLogicLevel(): Expr | undefined {
    let left = this.parseComparison();
    let previous: LogicOperator | undefined;
    while (left !== undefined) {
      const token = this.peek();
      if (token.type !== 'keyword') break;
      const operator = token.keyword;
      if (operator !== 'AND' && operator !== 'OR' && operator !== 'XOR') break;
      this.next();
      if (previous !== undefined && previous !== operator) {
        this.warnings.push({
          message:
            `${previous} and ${operator} are mixed without parentheses at column ${column(token.position)}: ` +
            'CESQL gives AND, OR and XOR the same precedence and groups them left to right (§3.6), ' +
            'unlike SQL; add parentheses to make the grouping explicit',
          position: token.position,
        });
      }
      previous = operator;
      const right = this.parseComparison();
      if (right === undefined) return undefined;
      left = binary(operator, left, right, token.position);
    }
    return left;
  }

  private parseComparison(): Expr | undefined {
    let left = this.parseAdditive();
    while (left !== undefined) {
      const token = this.peek();
      const operator = token.type === 'punctuator' ? COMPARISON[token.punctuator] : undefined;
      if (operator === undefined) break;
      this.next();
      this.warnIfBareNot(left, token);
      const right = this.parseAdditive();
      if (right === undefined) return undefined;
      left = binary(operator, left, right, token.position);
    }
    return left;
  }

  private parseAdditive(): Expr | undefined {
    let left = this.parseMultiplicative();
    while (left !== undefined) {
      const token = this.peek();
      if (token.type !== 'punctuator' || (token.punctuator !== '+' && token.punctuator !== '-')) break;
      this.next();
      const right = this.parseMultiplicative();
      if (right === undefined) return undefined;
      left = binary(token.punctuator, left, right, token.position);
    }
    return left;
  }

  private parseMultiplicative(): Expr | undefined {
    let left = this.parsePostfix();
    while (left !== undefined) {
      const token = this.peek();
      if (
        token.type !== 'punctuator' ||
        (token.punctuator !== '*' && token.punctuator !== '/' && token.punctuator !== '%')
      ) {
        break;
      }
      this.next();
      const right = this.parsePostfix();
      if (right === undefined) return undefined;
      left = binary(token.punctuator as ArithmeticOperator, left, right, token.position);
    }
    return left;
  }

  /** like-operation and in-operation (§2.3): `x [NOT] LIKE 'pattern'`, `x [NOT] IN (a, b)`. */
  private parsePostfix(): Expr | undefined {
    let operand = this.parseUnary();
    while (operand !== undefined) {
      let token = this.peek();
      let negated = false;
      if (this.isKeyword(token, 'NOT')) {
        const after = this.peek(1);
        if (!this.isKeyword(after, 'LIKE') && !this.isKeyword(after, 'IN')) {
          return this.fail(`expected LIKE or IN after NOT but found ${describeToken(after)}`, after.position);
        }
        this.next();
        negated = true;
        token = this.peek();
      }
      if (this.isKeyword(token, 'LIKE')) {
        this.next();
        this.warnIfBareNot(operand, token);
        const pattern = this.peek();
        if (pattern.type !== 'string') {
          // §3.4.3: the pattern MUST be a string literal, otherwise a parse error.
          return this.fail(
            `the pattern of LIKE must be a string literal but found ${describeToken(pattern)}`,
            pattern.position,
          );
        }
        this.next();
        operand = { kind: 'like', position: token.position, negated, operand, pattern: pattern.value };
        continue;
      }
      if (this.isKeyword(token, 'IN')) {
        this.next();
        this.warnIfBareNot(operand, token);
        const set = this.parseSet();
        if (set === undefined) return undefined;
        operand = { kind: 'in', position: token.position, negated, operand, set };
        continue;
      }
      break;
    }
    return operand;
  }

  /** set-expression ::= "(" expression ("," expression)* ")"  (§2.3; never empty, §3.4.5) */
  private parseSet(): Expr[] | undefined {
    if (!this.expectPunctuator('(', 'to open the set of IN')) return undefined;
    if (this.isPunctuator(this.peek(), ')')) {
      return this.fail('the set of IN must contain at least one value', this.peek().position);
    }
    const set: Expr[] = [];
    for (;;) {
      const element = this.parseLogic();
      if (element === undefined) return undefined;
      set.push(element);
      if (this.isPunctuator(this.peek(), ',')) {
        this.next();
        continue;
      }
      if (!this.expectPunctuator(')', 'to close the set of IN')) return undefined;
      return set;
    }
  }

  private parseUnary(): Expr | undefined {
    const token = this.peek();
    if (this.isKeyword(token, 'NOT')) {
      this.next();
      const operand = this.nested(token.position, () => this.parseUnary());
      if (operand === undefined) return undefined;
      return { kind: 'not', position: token.position, operand };
    }
    if (token.type === 'punctuator' && (token.punctuator === '-' || token.punctuator === '+')) {
      this.next();
      const following = this.peek();
      if (following.type === 'integer') {
        // integer-literal ::= ( '+' | '-' )? digit+  (§2.2): the sign belongs to the literal, which
        // is how the most negative Integer can be written at all.
        this.next();
        return this.integerLiteral(following.digits, token.punctuator === '-', token.position);
      }
      if (token.punctuator === '+') {
        return this.fail(`'+' must be followed by an integer literal but found ${describeToken(following)}`, following.position);
      }
      const operand = this.nested(token.position, () => this.parseUnary());
      if (operand === undefined) return undefined;
      return { kind: 'negate', position: token.position, operand };
    }
    return this.parsePrimary();
  }

  private integerLiteral(digits: string, negative: boolean, position: number): Expr | undefined {
    // Digits only, so Number() is exact up to 2^53; anything that long is out of range anyway.
    const magnitude = Number(digits);
    const value = negative ? -magnitude : magnitude;
    if (value < INT32_MIN || value > INT32_MAX) {
      // §2.2: "Integer literals MUST be valid 32 bit signed integer values."
      return this.fail(
        `integer literal ${negative ? '-' : ''}${digits} is outside the 32-bit range [${INT32_MIN}, ${INT32_MAX}]`,
        position,
      );
    }
    return { kind: 'literal', position, value: value | 0 };
  }

  private parsePrimary(): Expr | undefined {
    const token = this.next();
    switch (token.type) {
      case 'integer':
        return this.integerLiteral(token.digits, false, token.position);
      case 'string':
        return { kind: 'literal', position: token.position, value: token.value };
      case 'identifier':
      case 'functionName': {
        if (this.isPunctuator(this.peek(), '(')) return this.parseCall(token);
        if (token.type === 'functionName') {
          return this.fail(`'${token.text}' is not a valid attribute name (did you mean to call it?)`, token.position);
        }
        return { kind: 'attribute', position: token.position, name: token.name };
      }
      case 'keyword':
        switch (token.keyword) {
          case 'TRUE':
            return { kind: 'literal', position: token.position, value: true };
          case 'FALSE':
            return { kind: 'literal', position: token.position, value: false };
          case 'EXISTS': {
            const name = this.next();
            if (name.type !== 'identifier') {
              return this.fail(`expected an attribute name after EXISTS but found ${describeToken(name)}`, name.position);
            }
            return { kind: 'exists', position: token.position, name: name.name };
          }
          default:
            return this.fail(`expected an expression but found ${describeToken(token)}`, token.position);
        }
      case 'punctuator': {
        if (token.punctuator !== '(') {
          return this.fail(`expected an expression but found ${describeToken(token)}`, token.position);
        }
        const inner = this.parseLogic();
        if (inner === undefined) return undefined;
        if (!this.expectPunctuator(')', `to close the '(' at column ${column(token.position)}`)) return undefined;
        this.parenthesized.add(inner);
        return inner;
      }
      case 'end':
        return this.fail('unexpected end of expression: expected a value', token.position);
      default: {
        const unreachable: never = token;
        return unreachable;
      }
    }
  }

  /** function-invocation ::= function-identifier "(" argument-list? ")"  (§2.4) */
  private parseCall(nameToken: Extract<Token, { type: 'identifier' | 'functionName' }>): Expr | undefined {
    if (nameToken.type === 'identifier' && /[0-9]/.test(nameToken.text)) {
      return this.fail(`'${nameToken.text}' is not a valid function name: function names contain only letters and '_'`, nameToken.position);
    }
    const open = this.next(); // '('
    const args: Expr[] = [];
    if (!this.isPunctuator(this.peek(), ')')) {
      for (;;) {
        const arg = this.parseLogic();
        if (arg === undefined) return undefined;
        args.push(arg);
        if (this.isPunctuator(this.peek(), ',')) {
          this.next();
          continue;
        }
        break;
      }
    }
    if (!this.expectPunctuator(')', `to close the arguments of ${nameToken.text} opened at column ${column(open.position)}`)) {
      return undefined;
    }
    return { kind: 'call', position: nameToken.position, name: nameToken.text.toUpperCase(), args };
  }

  private warnIfBareNot(left: Expr, operatorToken: Token): void {
    if (left.kind !== 'not' || this.parenthesized.has(left)) return;
    const operator = operatorToken.type === 'keyword' ? operatorToken.keyword : operatorToken.text;
    this.warnings.push({
      message:
        `NOT at column ${column(left.position)} applies only to its operand, not to the ${operator} that follows ` +
        `(unary operators bind tightest, §3.6); write 'NOT (...)' or 'x NOT LIKE' / 'x NOT IN' if that is what you mean`,
      position: left.position,
    });
  }
}

function binary(operator: BinaryOperator, left: Expr, right: Expr, position: number): Expr {
  return { kind: 'binary', position, operator, left, right };
}
