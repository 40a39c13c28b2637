/**
 * LIKE patterns (spec §3.4.3): `%` is any run of characters (possibly empty), `_` exactly one
 * character, anything else itself (case-sensitive). `\%` and `\_` match a literal `%` and `_`;
 * a backslash before any other character is an ordinary character, so `'ab\c'` matches the
 * pattern `'ab\c'` (conformance kit, like_expression "Exact match (2)").
 *
 * A pattern is compiled once. The common shapes (`abc`, `abc%`, `%abc`, `%abc%`, `a%b`) become
 * a single string comparison; the rest run a linear-space wildcard matcher that backtracks only
 * to the last `%`, so no pattern can make matching exponential.
 */

export type LikeMatcher = (text: string) => boolean;

type Segment = { readonly kind: 'literal'; text: string } | { readonly kind: 'one' } | { readonly kind: 'any' };

const BACKSLASH = '\\';

/** Splits a pattern into literal runs, `_` and `%` (consecutive `%` collapsed). */
export function parseLikePattern(pattern: string): Segment[] {
  const segments: Segment[] = [];
  let literal = '';
  const flush = (): void => {
    if (literal !== '') {
      segments.push({ kind: 'literal', text: literal });
      literal = '';
    }
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === BACKSLASH) {
      const next = pattern[i + 1];
      if (next === '%' || next === '_') {
        literal += next;
        i++;
        continue;
      }
      literal += c;
      continue;
    }
    if (c === '%') {
      flush();
      if (segments.at(-1)?.kind !== 'any') segments.push({ kind: 'any' });
      continue;
    }
    if (c === '_') {
      flush();
      segments.push({ kind: 'one' });
      continue;
    }
    literal += c;
  }
  flush();
  return segments;
}

export function compileLike(pattern: string): LikeMatcher {
  const segments = parseLikePattern(pattern);
  const shape = segments.map((s) => (s.kind === 'literal' ? 'L' : s.kind === 'any' ? '%' : '_')).join('');
  const text = (index: number): string => (segments[index] as { text: string }).text;
  switch (shape) {
    case '':
      return (value) => value.length === 0;
    case '%':
      return () => true;
    case 'L': {
      const exact = text(0);
      return (value) => value === exact;
    }
    case 'L%': {
      const prefix = text(0);
      return (value) => value.startsWith(prefix);
    }
    case '%L': {
      const suffix = text(1);
      return (value) => value.endsWith(suffix);
    }
    case '%L%': {
      const infix = text(1);
      return (value) => value.includes(infix);
    }
    case 'L%L': {
      const prefix = text(0);
      const suffix = text(2);
      const minimum = prefix.length + suffix.length;
      return (value) => value.length >= minimum && value.startsWith(prefix) && value.endsWith(suffix);
    }
    default:
      return wildcardMatcher(segments);
  }
}

// Pattern program: one entry per UTF-16 code unit of literal text, or one of these markers.
const ANY = -1;
const ONE = -2;

function wildcardMatcher(segments: readonly Segment[]): LikeMatcher {
  const codes: number[] = [];
  for (const segment of segments) {
    if (segment.kind === 'any') codes.push(ANY);
    else if (segment.kind === 'one') codes.push(ONE);
    else for (let i = 0; i < segment.text.length; i++) codes.push(segment.text.charCodeAt(i));
  }
  const program = Int32Array.from(codes);
  return (value) => matchProgram(program, value);
}

/** Length in code units of the code point starting at `index`. */
function codePointWidth(text: string, index: number): number {
  const c = text.charCodeAt(index);
  if (c >= 0xd800 && c <= 0xdbff && index + 1 < text.length) {
    const d = text.charCodeAt(index + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return 2;
  }
  return 1;
}

/**
 * Classic wildcard matching: advance greedily; on a mismatch, retry from the most recent `%`
 * with one more character swallowed by it. Correct for `%`, `_` and literals because a later
 * `%` can absorb anything an earlier one could; O(text × pattern) at worst.
 */
function matchProgram(program: Int32Array, text: string): boolean {
  const patternLength = program.length;
  const textLength = text.length;
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = 0;
  while (t < textLength) {
    if (p < patternLength) {
      const code = program[p] as number;
      if (code === ANY) {
        starP = p++;
        starT = t;
        continue;
      }
      if (code === ONE) {
        t += codePointWidth(text, t);
        p++;
        continue;
      }
      if (code === text.charCodeAt(t)) {
        t++;
        p++;
        continue;
      }
    }
    if (starP < 0) return false;
    p = starP + 1;
    starT += codePointWidth(text, starT);
    t = starT;
  }
  while (p < patternLength && program[p] === ANY) p++;
  return p === patternLength;
}
