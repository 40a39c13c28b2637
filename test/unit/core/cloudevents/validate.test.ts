import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AttributeValue } from '../../../../core/cloudevents/event.js';
import { isRfc3339, isUriReference, validateEvent } from '../../../../core/cloudevents/validate.js';

const base = { specversion: '1.0', id: 'A234-1234-1234', source: '/mycontext', type: 'com.example.someevent' };
const base03 = { ...base, specversion: '0.3' };

interface Case {
  readonly name: string;
  readonly attributes: Record<string, AttributeValue>;
  /** null: valid with no issue at all. */
  readonly expect: null | { attribute: string; rule: string; severity?: 'error' | 'warning' };
}

const without = (name: string, from: Record<string, AttributeValue> = base): Record<string, AttributeValue> => {
  const copy = { ...from };
  delete copy[name];
  return copy;
};

// One case per rule, each with the smallest event that breaks it.
const cases: Case[] = [
  { name: 'minimal 1.0 event', attributes: base, expect: null },
  { name: 'minimal 0.3 event', attributes: base03, expect: null },
  { name: 'every optional 1.0 attribute', attributes: { ...base, datacontenttype: 'application/json; charset=utf-8', dataschema: 'https://example.com/schema', subject: 'x', time: '2018-04-05T17:31:00.123+02:00' }, expect: null },
  { name: 'extensions of every JSON type', attributes: { ...base, flag: true, count: -5, name1: 'v' }, expect: null },
  { name: 'missing id', attributes: without('id'), expect: { attribute: 'id', rule: 'required' } },
  { name: 'missing source', attributes: without('source'), expect: { attribute: 'source', rule: 'required' } },
  { name: 'missing type', attributes: without('type'), expect: { attribute: 'type', rule: 'required' } },
  { name: 'missing specversion', attributes: without('specversion'), expect: { attribute: 'specversion', rule: 'required' } },
  { name: 'unknown specversion', attributes: { ...base, specversion: '2.0' }, expect: { attribute: 'specversion', rule: 'specversion' } },
  { name: 'numeric specversion', attributes: { ...base, specversion: 1 }, expect: { attribute: 'specversion', rule: 'specversion' } },
  { name: 'empty id', attributes: { ...base, id: '' }, expect: { attribute: 'id', rule: 'non-empty' } },
  { name: 'empty type', attributes: { ...base, type: '' }, expect: { attribute: 'type', rule: 'non-empty' } },
  { name: 'empty source', attributes: { ...base, source: '' }, expect: { attribute: 'source', rule: 'non-empty' } },
  { name: 'empty subject', attributes: { ...base, subject: '' }, expect: { attribute: 'subject', rule: 'non-empty' } },
  { name: 'numeric id', attributes: { ...base, id: 5 }, expect: { attribute: 'id', rule: 'string' } },
  { name: 'boolean type', attributes: { ...base, type: true }, expect: { attribute: 'type', rule: 'string' } },
  { name: 'source with a space', attributes: { ...base, source: 'my context' }, expect: { attribute: 'source', rule: 'uri-reference' } },
  { name: 'source with a bad percent escape', attributes: { ...base, source: '/a%zz' }, expect: { attribute: 'source', rule: 'uri-reference' } },
  { name: 'source whose scheme starts with a digit', attributes: { ...base, source: '1http://x' }, expect: { attribute: 'source', rule: 'uri-reference' } },
  { name: 'absolute source', attributes: { ...base, source: 'https://github.com/cloudevents/spec/pull/123?x=1#f' }, expect: null },
  { name: 'URN source', attributes: { ...base, source: 'urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66' }, expect: null },
  { name: 'dataschema not a URI', attributes: { ...base, dataschema: 'a b' }, expect: { attribute: 'dataschema', rule: 'uri' } },
  { name: 'relative dataschema is a warning', attributes: { ...base, dataschema: '/schemas/v1' }, expect: { attribute: 'dataschema', rule: 'uri', severity: 'warning' } },
  { name: '0.3 schemaurl not a URI-reference', attributes: { ...base03, schemaurl: 'a b' }, expect: { attribute: 'schemaurl', rule: 'uri-reference' } },
  { name: '0.3 relative schemaurl', attributes: { ...base03, schemaurl: '/schemas/v1' }, expect: null },
  { name: '0.3 datacontentencoding base64', attributes: { ...base03, datacontentencoding: 'base64' }, expect: null },
  { name: '0.3 datacontentencoding other', attributes: { ...base03, datacontentencoding: 'gzip' }, expect: { attribute: 'datacontentencoding', rule: 'datacontentencoding' } },
  { name: 'time without a zone', attributes: { ...base, time: '2018-04-05T17:31:00' }, expect: { attribute: 'time', rule: 'rfc3339' } },
  { name: 'time on a day that does not exist', attributes: { ...base, time: '2019-02-29T00:00:00Z' }, expect: { attribute: 'time', rule: 'rfc3339' } },
  { name: 'time as a number', attributes: { ...base, time: 1522949460 }, expect: { attribute: 'time', rule: 'string' } },
  { name: 'datacontenttype not a media type', attributes: { ...base, datacontenttype: 'json' }, expect: { attribute: 'datacontenttype', rule: 'media-type' } },
  { name: 'attribute name with upper case', attributes: { ...base, myExt: 'x' }, expect: { attribute: 'myExt', rule: 'name' } },
  { name: 'attribute name with an underscore', attributes: { ...base, my_ext: 'x' }, expect: { attribute: 'my_ext', rule: 'name' } },
  { name: 'empty attribute name', attributes: { ...base, '': 'x' }, expect: { attribute: '', rule: 'name' } },
  { name: 'attribute name of 21 characters is a warning', attributes: { ...base, abcdefghijklmnopqrstu: 'x' }, expect: { attribute: 'abcdefghijklmnopqrstu', rule: 'name-length', severity: 'warning' } },
  { name: 'attribute named data', attributes: { ...base, data: 'x' }, expect: { attribute: 'data', rule: 'reserved' } },
  { name: 'extension with a fraction', attributes: { ...base, ratio: 1.5 }, expect: { attribute: 'ratio', rule: 'integer' } },
  { name: 'extension beyond int32', attributes: { ...base, big: 2147483648 }, expect: { attribute: 'big', rule: 'integer' } },
  { name: 'extension with a control character', attributes: { ...base, note: 'a\u0007b' }, expect: { attribute: 'note', rule: 'characters' } },
  { name: 'subject with a lone surrogate', attributes: { ...base, subject: 'a\ud800b' }, expect: { attribute: 'subject', rule: 'characters' } },
  { name: 'subject with a surrogate pair is fine', attributes: { ...base, subject: 'a\u{1F600}b' }, expect: null },
];

describe('validateEvent', () => {
  for (const c of cases) {
    test(c.name, () => {
      const issues = validateEvent({ attributes: c.attributes });
      if (c.expect === null) {
        assert.deepEqual(issues, []);
        return;
      }
      assert.equal(issues.length, 1, JSON.stringify(issues));
      const [issue] = issues;
      assert.equal(issue!.attribute, c.expect.attribute);
      assert.equal(issue!.rule, c.expect.rule);
      assert.equal(issue!.severity, c.expect.severity ?? 'error');
      assert.match(issue!.message, new RegExp(`'${c.expect.attribute}'`), 'the message names the attribute');
    });
  }

  test('reports every problem, not only the first', () => {
    const issues = validateEvent({ attributes: { specversion: '1.0', source: 'a b', time: 'yesterday' } });
    assert.deepEqual(issues.map((i) => `${i.attribute}:${i.rule}`).sort(), ['id:required', 'source:uri-reference', 'time:rfc3339', 'type:required']);
  });
});

describe('isRfc3339', () => {
  const valid = ['2018-04-05T17:31:00Z', '2018-04-05t17:31:00z', '2020-02-29T23:59:60.999999-08:00', '1985-04-12T23:20:50.52Z'];
  const invalid = ['2018-04-05', '2018-04-05 17:31:00Z', '2018-13-01T00:00:00Z', '2018-04-31T00:00:00Z', '2018-04-05T24:00:00Z', '2018-04-05T17:31:00+25:00', '2018-04-05T17:31Z', ''];
  for (const v of valid) test(`accepts ${v}`, () => assert.equal(isRfc3339(v), true));
  for (const v of invalid) test(`rejects '${v}'`, () => assert.equal(isRfc3339(v), false));
});

describe('isUriReference', () => {
  const valid = ['/', '', 'a', './a:b', '//host:80/p', 'http://[::1]:8080/x', 'mailto:a@b.c', '?q', '#f', 'a/b%20c', 'https://user:pw@h/p;x=1?q=/?#/?'];
  const invalid = ['a b', ':x', 'a:b c', '%', 'a#b#c', 'http://h/<', '\\path'];
  for (const v of valid) test(`accepts '${v}'`, () => assert.equal(isUriReference(v), true));
  for (const v of invalid) test(`rejects '${v}'`, () => assert.equal(isUriReference(v), false));
});

describe('remembered verdicts (names, source, content type)', () => {
  // The same values again and again, as a producer sends them: every time the same verdict.
  const cases: { name: string; attributes: Record<string, AttributeValue>; rules: string[] }[] = [
    { name: 'valid, repeated', attributes: { ...base, datacontenttype: 'application/json' }, rules: [] },
    { name: 'bad source, repeated', attributes: { ...base, source: 'a b' }, rules: ['uri-reference'] },
    { name: 'bad media type, repeated', attributes: { ...base, datacontenttype: 'json' }, rules: ['media-type'] },
    { name: 'bad name, repeated', attributes: { ...base, 'Bad-Name': 'x' }, rules: ['name'] },
    { name: 'control character in a printable-looking id', attributes: { ...base, id: 'a\u0007b' }, rules: ['characters'] },
    { name: 'non-ASCII but allowed', attributes: { ...base, subject: 'café ✓' }, rules: [] },
    { name: 'DEL is refused', attributes: { ...base, subject: 'a\u007f' }, rules: ['characters'] },
    { name: 'lone surrogate is refused', attributes: { ...base, subject: 'a\ud800' }, rules: ['characters'] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      for (let round = 0; round < 3; round++) {
        assert.deepEqual(validateEvent({ attributes: c.attributes }).map((i) => i.rule), c.rules, `round ${round}`);
      }
    });
  }

  test('a value longer than what is remembered is still checked each time', () => {
    const long = `/${'a'.repeat(300)}`;
    for (let round = 0; round < 2; round++) assert.deepEqual(validateEvent({ attributes: { ...base, source: long } }), []);
    const bad = `${long} b`;
    for (let round = 0; round < 2; round++) assert.deepEqual(validateEvent({ attributes: { ...base, source: bad } }).map((i) => i.rule), ['uri-reference']);
  });
});
