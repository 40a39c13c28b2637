import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { AttributeValue, CloudEvent } from '../../core/cloudevents/event.js';
import { compileCesql, parse, type CesqlErrorKind } from '../../core/cesql/index.js';
import { compileFilter } from '../../core/filters/compile.js';
import { PROTOTYPE_NAMES, settings } from './settings.js';

/**
 * CESQL never throws on user input (its errors are values of the spec's kinds, §3.3): parsing
 * any text, and compiling and evaluating whatever parses against any event.
 */

const KINDS = new Set<CesqlErrorKind>(['parse', 'math', 'cast', 'missingFunction', 'functionEvaluation', 'missingAttribute', 'generic']);

const identifier = fc.oneof(fc.constantFrom(...PROTOTYPE_NAMES, '__proto__', 'id', 'type', 'source', 'subject', 'n', 'flag'), fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/));
const token = fc.oneof(
  identifier,
  fc.constantFrom('AND', 'OR', 'XOR', 'NOT', 'LIKE', 'IN', 'EXISTS', 'TRUE', 'FALSE', '(', ')', ',', '=', '!=', '<>', '<', '<=', '>', '>=', '+', '-', '*', '/', '%'),
  fc.constantFrom('ABS', 'LENGTH', 'CONCAT', 'CONCAT_WS', 'LOWER', 'UPPER', 'TRIM', 'LEFT', 'RIGHT', 'SUBSTRING', 'INT', 'BOOL', 'STRING', 'IS_INT', 'IS_BOOL', 'constructor', 'toString'),
  fc.integer().map(String),
  fc.constantFrom('2147483647', '2147483648', '-2147483648', '99999999999999999999'),
  fc.string({ maxLength: 8 }).map((s) => `'${s.replace(/'/g, "''")}'`),
  fc.string({ maxLength: 8 }).map((s) => `"${s.replace(/"/g, '""')}"`),
);
const expression = fc.oneof(
  fc.array(token, { minLength: 1, maxLength: 12 }).map((tokens) => tokens.join(' ')),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

const event: fc.Arbitrary<CloudEvent> = fc.dictionary(
  identifier,
  fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean(), fc.double()) as fc.Arbitrary<AttributeValue>,
  { maxKeys: 6 },
).map((extra) => ({ attributes: { specversion: '1.0', id: '1', source: '/s', type: 't', ...extra } }));

describe('property: CESQL', () => {
  test('parse, compile, evaluate and the filter predicate never throw; errors are of the spec\'s kinds', () => {
    fc.assert(fc.property(expression, fc.array(event, { minLength: 1, maxLength: 3 }), (text, events) => {
      const parsed = parse(text);
      if (!parsed.ok) {
        assert.equal(parsed.error.kind, 'parse');
        assert.equal(typeof parsed.error.message, 'string');
        return;
      }
      const compiled = compileCesql(text);
      assert.ok(compiled.ok);
      for (const d of compiled.diagnostics) assert.ok(KINDS.has(d.kind), d.kind);
      const predicate = compileFilter({ kind: 'cesql', expression: text }, { onEvaluationError: (e) => assert.ok(KINDS.has(e.kind), e.kind) });
      for (const e of events) {
        const result = compiled.run(e);
        assert.ok(['string', 'number', 'boolean'].includes(typeof result.value));
        if (typeof result.value === 'number') assert.ok(Number.isInteger(result.value) && result.value >= -2147483648 && result.value <= 2147483647, String(result.value));
        if (result.error !== undefined) assert.ok(KINDS.has(result.error.kind), result.error.kind);
        assert.equal(typeof predicate(e), 'boolean');
      }
    }), settings());
  });
});
