/**
 * The CESQL v1 conformance kit (../shared/tck/cesql/*.yaml, read where it lies), one test per
 * case. A case passes when the result and the error kind match: see the kit's README.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { AttributeValue, CloudEvent } from '../../core/cloudevents/event.js';
import { compileCesql } from '../../core/cesql/index.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const tckDirectory = path.resolve(projectRoot, '..', 'shared', 'tck', 'cesql');

interface TckCase {
  name: string;
  expression: string;
  result?: boolean | number | string;
  error?: string;
  event?: Record<string, AttributeValue>;
  eventOverrides?: Record<string, AttributeValue>;
}

interface TckFile {
  name: string;
  tests: TckCase[];
}

/** "an otherwise arbitrary valid event" (README): the four required attributes only. */
const BASE_EVENT: Readonly<Record<string, AttributeValue>> = {
  specversion: '1.0',
  id: 'conformance-id',
  source: 'conformance/source',
  type: 'conformance.type',
};

function eventFor(tc: TckCase): CloudEvent {
  if (tc.event !== undefined) return { attributes: { ...tc.event } };
  return { attributes: { ...BASE_EVENT, ...tc.eventOverrides } };
}

const files = readdirSync(tckDirectory)
  .filter((file) => file.endsWith('.yaml'))
  .sort();

let caseCount = 0;

test('the conformance kit is where the README says, with its 18 files', () => {
  assert.equal(files.length, 18, `expected 18 YAML files in ${tckDirectory}`);
});

for (const file of files) {
  const source = readFileSync(path.join(tckDirectory, file), 'utf8');
  // Expressions and names are source text: YAML's core schema would turn `TRUE`, `0` or `-10`
  // into a boolean or a number, so they are read again with the all-strings failsafe schema.
  // Results and events keep their YAML types (the kit's typed attribute values).
  const suite = parseYaml(source) as TckFile;
  const asText = parseYaml(source, { schema: 'failsafe' }) as { tests: { name: string; expression: string }[] };
  describe(`${file}: ${suite.name}`, () => {
    suite.tests.forEach((typed, index) => {
      const text = asText.tests[index];
      assert.ok(text !== undefined);
      const tc: TckCase = { ...typed, name: text.name, expression: text.expression };
      caseCount++;
      test(tc.name, () => {
        const compiled = compileCesql(tc.expression);
        if (tc.error === 'parse') {
          assert.equal(compiled.ok, false, `expected a parse error for ${tc.expression}`);
          // A parse error yields no evaluation; the kit's result for it is the Boolean zero.
          if (tc.result !== undefined) assert.equal(tc.result, false);
          return;
        }
        assert.ok(compiled.ok, `unexpected parse error: ${compiled.ok ? '' : compiled.error.message}`);
        const { value, error } = compiled.run(eventFor(tc));
        if (tc.error === undefined) {
          assert.equal(error, undefined, `unexpected ${error?.kind} error: ${error?.message}`);
        } else {
          assert.equal(error?.kind, tc.error, `expected a ${tc.error} error, got ${error?.kind ?? 'none'}`);
        }
        if (tc.result !== undefined) assert.equal(value, tc.result);
      });
    });
  });
}

test('every case of the kit was loaded', () => {
  assert.ok(caseCount >= 270, `only ${caseCount} cases found`);
});
