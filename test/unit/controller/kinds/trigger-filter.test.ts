import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import type { AttributeValue, CloudEvent } from '../../../../core/cloudevents/event.js';
import { compileFilter } from '../../../../core/filters/compile.js';
import type { Filter } from '../../../../core/filters/types.js';
import { MAX_FILTER_NESTING, triggerFilter, type FilterProblem } from '../../../../controller/kinds/trigger-filter.js';

function converted(spec: unknown): Filter | null {
  const result = triggerFilter(spec);
  assert.ok(result.ok, result.ok ? '' : JSON.stringify(result.errors, null, 1));
  return result.filter;
}

function problems(spec: unknown): FilterProblem[] {
  const result = triggerFilter(spec);
  assert.equal(result.ok, false, 'expected validation problems');
  return result.ok ? [] : [...result.errors];
}

function event(attributes: Record<string, AttributeValue>): CloudEvent {
  return { attributes: { specversion: '1.0', id: '1', source: '/s', type: 't', ...attributes } };
}

describe('conversion of valid trigger specs', () => {
  const cases: [string, unknown, Filter | null][] = [
    ['no spec', undefined, null],
    ['no filter fields', { broker: 'default' }, null],
    ['filter: null', { filter: null }, null],
    ['empty filter', { filter: {} }, null],
    ['empty attributes', { filter: { attributes: {} } }, null],
    ['empty filters list', { filters: [] }, null],
    [
      'legacy attributes',
      { filter: { attributes: { type: 'com.example', source: '' } } },
      { kind: 'attributes', attributes: { type: 'com.example', source: '' } },
    ],
    [
      'filters: one of each dialect',
      {
        filters: [
          { exact: { type: 'a' } },
          { prefix: { source: '/x' } },
          { suffix: { subject: '.json' } },
          { all: [{ exact: { id: '1' } }] },
          { any: [{ exact: { id: '1' } }, { exact: { id: '2' } }] },
          { not: { exact: { type: 'b' } } },
          { cesql: 'EXISTS subject' },
        ],
      },
      {
        kind: 'all',
        filters: [
          { kind: 'exact', attributes: { type: 'a' } },
          { kind: 'prefix', attributes: { source: '/x' } },
          { kind: 'suffix', attributes: { subject: '.json' } },
          { kind: 'all', filters: [{ kind: 'exact', attributes: { id: '1' } }] },
          {
            kind: 'any',
            filters: [
              { kind: 'exact', attributes: { id: '1' } },
              { kind: 'exact', attributes: { id: '2' } },
            ],
          },
          { kind: 'not', filter: { kind: 'exact', attributes: { type: 'b' } } },
          { kind: 'cesql', expression: 'EXISTS subject' },
        ],
      },
    ],
    [
      'several attributes in one exact',
      { filters: [{ exact: { type: 'a', source: 'b' } }] },
      { kind: 'all', filters: [{ kind: 'exact', attributes: { type: 'a', source: 'b' } }] },
    ],
    [
      'filters replaces filter',
      { filter: { attributes: { type: 'legacy' } }, filters: [{ exact: { type: 'new' } }] },
      { kind: 'all', filters: [{ kind: 'exact', attributes: { type: 'new' } }] },
    ],
    [
      'empty filters falls back to filter',
      { filter: { attributes: { type: 'legacy' } }, filters: [] },
      { kind: 'attributes', attributes: { type: 'legacy' } },
    ],
  ];
  for (const [name, spec, expected] of cases) {
    test(name, () => assert.deepEqual(converted(spec), expected));
  }

  test('a YAML trigger as users write it', () => {
    const trigger = parseYaml(`
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: orders }
spec:
  broker: default
  filters:
    - exact: { type: com.example.order.created }
    - any:
        - prefix: { source: /orders/eu }
        - not:
            suffix: { subject: .tmp }
    - cesql: "EXISTS priority AND INT(priority) > 3"
`) as { spec: unknown };
    const result = triggerFilter(trigger.spec);
    assert.ok(result.ok);
    assert.deepEqual(result.warnings, []);
    const passes = compileFilter(result.filter);
    const base = { type: 'com.example.order.created', priority: '5' };
    assert.equal(passes(event({ ...base, source: '/orders/eu' })), true);
    assert.equal(passes(event({ ...base, source: '/orders/us', subject: 'a.json' })), true);
    assert.equal(passes(event({ ...base, source: '/orders/us', subject: 'a.tmp' })), false);
    assert.equal(passes(event({ ...base, source: '/orders/eu', priority: '2' })), false);
    assert.equal(passes(event({ type: 'com.example.order.created', source: '/orders/eu' })), false);
  });
});

describe('legacy spec.filter vs spec.filters', () => {
  const legacyOnly = event({ type: 'legacy' });
  const newOnly = event({ type: 'new' });
  const cases: [string, unknown, boolean, boolean][] = [
    // [name, spec, passes legacyOnly, passes newOnly]
    ['only filter', { filter: { attributes: { type: 'legacy' } } }, true, false],
    ['only filters', { filters: [{ exact: { type: 'new' } }] }, false, true],
    ['both: filters wins', { filter: { attributes: { type: 'legacy' } }, filters: [{ exact: { type: 'new' } }] }, false, true],
    ['both, filters empty: filter applies', { filter: { attributes: { type: 'legacy' } }, filters: [] }, true, false],
    ['neither: everything passes', {}, true, true],
  ];
  for (const [name, spec, passesLegacy, passesNew] of cases) {
    test(name, () => {
      const passes = compileFilter(converted(spec));
      assert.equal(passes(legacyOnly), passesLegacy);
      assert.equal(passes(newOnly), passesNew);
    });
  }

  test('a spec.filter overridden by spec.filters is reported as ignored', () => {
    const result = triggerFilter({ filter: { attributes: { type: 'legacy' } }, filters: [{ exact: { type: 'new' } }] });
    assert.ok(result.ok);
    assert.deepEqual(result.warnings, [{ path: 'spec.filter', message: 'ignored: spec.filters is set and replaces spec.filter' }]);
  });
});

describe('validation messages', () => {
  /** [name, spec, [path, message pattern][]] */
  const cases: [string, unknown, [string, RegExp][]][] = [
    ['spec not an object', 'oops', [['spec', /must be an object, found string "oops"/]]],
    ['filters not a list', { filters: { exact: { type: 'a' } } }, [['spec.filters', /must be a list of filters, found an object/]]],
    ['filter entry not an object', { filters: ['type=a'] }, [['spec.filters[0]', /must be an object with one of exact, prefix, suffix, all, any, not, cesql/]]],
    ['empty filter object', { filters: [{}] }, [['spec.filters[0]', /empty filter: set exactly one of exact, prefix/]]],
    [
      'two dialects in one object',
      { filters: [{ exact: { type: 'a' } }, { exact: { type: 'a' }, prefix: { source: 'b' } }] },
      [['spec.filters[1]', /more than one dialect in one filter \(exact, prefix\).*nest them in 'all'/]],
    ],
    ['unknown dialect', { filters: [{ regex: { type: 'a.*' } }] }, [['spec.filters[0].regex', /unknown filter dialect 'regex'/]]],
    ['empty exact', { filters: [{ exact: {} }] }, [['spec.filters[0].exact', /empty 'exact': map at least one attribute/]]],
    ['null prefix (YAML "prefix:")', { filters: [{ prefix: null }] }, [['spec.filters[0].prefix', /empty 'prefix'/]]],
    ['exact as a list', { filters: [{ exact: ['type'] }] }, [['spec.filters[0].exact', /must map attribute names to values, found a list/]]],
    ['empty all', { filters: [{ all: [] }] }, [['spec.filters[0].all', /empty 'all': it must contain at least one filter/]]],
    ['empty any', { filters: [{ any: [] }] }, [['spec.filters[0].any', /empty 'any'/]]],
    ['any not a list', { filters: [{ any: { exact: { type: 'a' } } }] }, [['spec.filters[0].any', /must be a list of filters/]]],
    ['empty not', { filters: [{ not: {} }] }, [['spec.filters[0].not', /empty 'not': it must contain one filter/]]],
    ['not with a list', { filters: [{ not: [{ exact: { type: 'a' } }] }] }, [['spec.filters[0].not', /'not' takes one filter, not a list/]]],
    [
      'upper-case attribute name',
      { filters: [{ exact: { Type: 'a' } }] },
      [['spec.filters[0].exact.Type', /invalid attribute name "Type".*\^\[a-z0-9\]\+\$.*did you mean 'type'/]],
    ],
    ['attribute name with a dash', { filters: [{ prefix: { 'my-ext': 'a' } }] }, [['spec.filters[0].prefix.my-ext', /invalid attribute name "my-ext"/]]],
    ['attribute name with a space', { filters: [{ suffix: { 'my ext': 'a' } }] }, [['spec.filters[0].suffix["my ext"]', /invalid attribute name "my ext"/]]],
    ['legacy attribute name', { filter: { attributes: { Source: 'a' } } }, [['spec.filter.attributes.Source', /invalid attribute name "Source"/]]],
    ['non-string value', { filters: [{ exact: { priority: 5 } }] }, [['spec.filters[0].exact.priority', /must be a string, found number 5 \(quote it in YAML\)/]]],
    ['legacy non-string value', { filter: { attributes: { flag: true } } }, [['spec.filter.attributes.flag', /must be a string, found boolean true/]]],
    ['empty exact value', { filters: [{ exact: { type: '' } }] }, [['spec.filters[0].exact.type', /is empty: exact needs a non-empty value.*EXISTS type/]]],
    ['unknown field in legacy filter', { filter: { exact: { type: 'a' } } }, [['spec.filter.exact', /unknown field 'exact'.*belongs in a spec.filters entry/]]],
    ['cesql not a string', { filters: [{ cesql: 5 }] }, [['spec.filters[0].cesql', /must be a CESQL expression string/]]],
    ['cesql empty', { filters: [{ cesql: '  ' }] }, [['spec.filters[0].cesql', /empty CESQL expression/]]],
    [
      'cesql parse error with position',
      { filters: [{ exact: { type: 'a' } }, { any: [{ exact: { type: 'b' } }, { cesql: "type = 'a' AND (source" }] }] },
      [['spec.filters[1].any[1].cesql', /invalid CESQL expression: expected '\)' .* at column 23/]],
    ],
    ['cesql LIKE without a string pattern', { filters: [{ cesql: 'type LIKE 5' }] }, [['spec.filters[0].cesql', /pattern of LIKE must be a string literal but found integer 5 at column 11/]]],
    ['cesql unknown function', { filters: [{ cesql: 'NOSUCH(type)' }] }, [['spec.filters[0].cesql', /always fails: missingFunction error: function NOSUCH/]]],
    ['cesql wrong arity', { filters: [{ cesql: "LOWER(type, 'x') = 'a'" }] }, [['spec.filters[0].cesql', /LOWER takes 1 argument/]]],
    ['cesql non-Boolean result', { filters: [{ cesql: 'LENGTH(type)' }] }, [['spec.filters[0].cesql', /evaluates to an Integer; a filter needs a Boolean/]]],
    ['cesql certain cast error', { filters: [{ cesql: "priority > 'high'" }] }, [['spec.filters[0].cesql', /always fails: cast error/]]],
    [
      'several problems are all reported',
      {
        filter: { attributes: { Type: 'a' } },
        filters: [{ exact: { Type: 'a' } }, {}, { all: [{ not: { cesql: '(' } }] }],
      },
      [
        ['spec.filter.attributes.Type', /invalid attribute name/],
        ['spec.filters[0].exact.Type', /invalid attribute name/],
        ['spec.filters[1]', /empty filter/],
        ['spec.filters[2].all[0].not.cesql', /invalid CESQL expression/],
      ],
    ],
  ];
  for (const [name, spec, expected] of cases) {
    test(name, () => {
      const found = problems(spec);
      assert.deepEqual(
        found.map((problem) => problem.path),
        expected.map(([path]) => path),
        JSON.stringify(found, null, 1),
      );
      expected.forEach(([, message], index) => assert.match(found[index]?.message ?? '', message));
    });
  }

  test('a CESQL problem carries the position in the expression', () => {
    const [problem] = problems({ filters: [{ cesql: "type = 'a' AND (source" }] });
    assert.equal(problem?.position, 22);
  });

  test('CESQL warnings (legal but easily misread) do not fail validation', () => {
    const result = triggerFilter({ filters: [{ cesql: "a = '1' OR b = '2' AND c = '3'" }] });
    assert.ok(result.ok);
    assert.equal(result.warnings.length, 1);
    assert.equal(result.warnings[0]?.path, 'spec.filters[0].cesql');
    assert.match(result.warnings[0]?.message ?? '', /mixed without parentheses/);
  });

  test('nesting is bounded: deeper filters are a problem, not a stack overflow', () => {
    const nest = (levels: number): unknown => {
      let filter: unknown = { exact: { type: 'a' } };
      for (let i = 0; i < levels; i++) filter = i % 2 === 0 ? { not: filter } : { any: [filter] };
      return filter;
    };
    assert.ok(triggerFilter({ filters: [nest(MAX_FILTER_NESTING - 1)] }).ok);
    const deep = problems({ filters: [nest(100_000)] });
    assert.equal(deep.length, 1);
    assert.match(deep[0]?.message ?? '', /nested too deeply/);
  });

  test('never throws on odd input', () => {
    const inputs: unknown[] = [null, 0, [], { filters: [null, 1, 'x', [], { not: null }] }, { filter: [] }, { filter: { attributes: [] } }];
    for (const input of inputs) assert.doesNotThrow(() => triggerFilter(input));
  });
});
