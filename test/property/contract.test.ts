import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseContract, parseContractJson } from '../../core/contract/parse.js';
import { isBrokerError } from '../../core/errors.js';
import { makeBroker, makeContract, makeEgress } from '../helpers/builders.js';
import { settings } from './settings.js';

/**
 * The contract parser takes anything: a contract, or its own CONTRACT_INVALID error — never a
 * TypeError from a shape it did not expect, and never a polluted prototype.
 */

function parsesOrRefuses(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    assert.ok(isBrokerError(error) && error.code === 'CONTRACT_INVALID', `threw ${String(error)}`);
  }
}

const valid = makeContract([makeBroker('b', [makeEgress('t', { filter: { kind: 'exact', attributes: { constructor: 'x' } } })])], 3);

/** A valid contract with one value somewhere replaced by arbitrary JSON. */
function mutate(value: unknown, path: readonly number[], replacement: unknown): unknown {
  if (path.length === 0 || value === null || typeof value !== 'object') return replacement;
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  if (entries.length === 0) return replacement;
  const index = path[0]! % entries.length;
  const out: [string, unknown][] = entries.map(([k, v], i) => [k, i === index ? mutate(v, path.slice(1), replacement) : v]);
  return Array.isArray(value) ? out.map(([, v]) => v) : Object.fromEntries(out);
}

describe('property: contract parser', () => {
  test('arbitrary JSON: a contract or CONTRACT_INVALID', () => {
    fc.assert(fc.property(fc.jsonValue(), (json) => parsesOrRefuses(() => parseContract(json))), settings());
  });

  test('arbitrary text: a contract or CONTRACT_INVALID', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.json()), (text) => parsesOrRefuses(() => parseContractJson(text))), settings());
  });

  test('a valid contract with one part replaced by arbitrary JSON (or a __proto__ key): a contract or CONTRACT_INVALID', () => {
    const replacement = fc.oneof(fc.jsonValue(), fc.constant(JSON.parse('{"__proto__":{"polluted":true}}') as unknown));
    fc.assert(fc.property(fc.array(fc.nat(), { maxLength: 8 }), replacement, (path, r) => {
      const json = JSON.stringify(mutate(JSON.parse(JSON.stringify(valid)), path, r));
      parsesOrRefuses(() => parseContractJson(json));
      assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    }), settings());
  });

  test('the valid contract itself parses', () => {
    assert.equal(parseContract(JSON.parse(JSON.stringify(valid))).generation, 3);
  });
});
