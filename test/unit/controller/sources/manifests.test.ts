import assert from 'node:assert/strict';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test, type TestContext } from 'node:test';
import { silentLogger } from '../../../../core/logger.js';
import { ManifestSource, parseManifestFile, stableUid } from '../../../../controller/sources/manifests.js';
import { formatProblem } from '../../../../controller/sources/source.js';
import { waitUntil } from '../../../helpers/wait.js';

const BROKER = `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
`;
const trigger = (name: string, type = 'a'): string => `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: ${name}
spec:
  broker: default
  filter:
    attributes:
      type: ${type}
  subscriber:
    uri: http://127.0.0.1:9/
`;

describe('parseManifestFile', () => {
  test('reads every document with its number and line; the namespace defaults to "default"', () => {
    const { objects, problems } = parseManifestFile('a.yaml', `${BROKER}---\n${trigger('t')}`);
    assert.deepEqual(problems, []);
    assert.deepEqual(objects.map((o) => [o.object.kind, o.object.metadata.namespace, o.object.metadata.name, o.document, o.line]), [
      ['Broker', 'default', 'default', 1, 1],
      ['Trigger', 'default', 't', 2, 6],
    ]);
  });

  test('a YAML syntax error names the document and the line; the other documents still parse', () => {
    const { objects, problems } = parseManifestFile('a.yaml', `${BROKER}---\nkind: Trigger\nspec: [1, 2\n---\n${trigger('t')}`);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.document, 2);
    assert.equal(problems[0]!.line, 8);
    assert.match(problems[0]!.message, /^invalid YAML/);
    assert.deepEqual(objects.map((o) => o.object.metadata.name), ['default', 't']);
  });

  test('duplicate keys are an error (they are in Kubernetes too)', () => {
    const { problems } = parseManifestFile('a.yaml', `${BROKER}metadata:\n  name: x\n`);
    assert.match(problems[0]!.message, /unique/);
  });

  test('envelopes are checked: kind, name, namespace, annotation values', () => {
    const cases: [string, RegExp][] = [
      ['apiVersion: v1\nmetadata: {name: x}\n', /missing kind/],
      ['apiVersion: v1\nkind: ConfigMap\n', /missing metadata.name/],
      ['apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n', /metadata.name must be/],
      ['apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: "a/b"}\n', /metadata.namespace must be/],
      ['apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, annotations: {a: 10}}\n', /quote values/],
      ['- 1\n- 2\n', /expected a Kubernetes object/],
      // Kinds and apiVersions this broker does not serve are reported, with the likely fix.
      ['apiVersion: eventing.knative.dev/v1\nkind: Triger\nmetadata: {name: x}\n', /^unknown kind "Triger" \(apiVersion eventing\.knative\.dev\/v1\); did you mean Trigger \(eventing\.knative\.dev\/v1\)\?$/],
      ['apiVersion: eventing.knative.dev/v1\nkind: trigger\nmetadata: {name: x}\n', /did you mean Trigger/],
      ['apiVersion: eventing.knative.dev/v1beta1\nkind: Trigger\nmetadata: {name: x}\n', /^Trigger: apiVersion "eventing\.knative\.dev\/v1beta1" is not served; did you mean eventing\.knative\.dev\/v1\?$/],
      ['apiVersion: messaging.knative.dev/v1\nkind: Broker\nmetadata: {name: x}\n', /did you mean eventing\.knative\.dev\/v1\?/],
      ['apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n', /^unknown kind "Deployment" \(apiVersion apps\/v1\) \(served: Broker, Trigger/],
    ];
    for (const [text, message] of cases) {
      const { objects, problems } = parseManifestFile('a.yaml', text);
      assert.equal(objects.length, 0, text);
      assert.match(problems[0]?.message ?? '', message, text);
    }
  });

  test('an unknown kind is reported with its file, document and line, and the other documents load', () => {
    const { objects, problems } = parseManifestFile('t.yaml', `${BROKER}---\napiVersion: eventing.knative.dev/v1\nkind: Triger\nmetadata: {name: x}\n`);
    assert.deepEqual(objects.map((o) => o.object.kind), ['Broker']);
    assert.equal(problems.length, 1);
    assert.match(formatProblem(problems[0]!), /^t\.yaml, document 2, line \d+: unknown kind "Triger" .*did you mean Trigger/);
  });

  test('a kind: List and a JSON array give their items, each with its line', () => {
    const list = `apiVersion: v1\nkind: List\nitems:\n  - ${BROKER.trim().replace(/\n/g, '\n    ')}\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: c}\n`;
    const fromList = parseManifestFile('a.yaml', list);
    assert.deepEqual(fromList.problems, []);
    assert.deepEqual(fromList.objects.map((o) => [o.object.kind, o.line]), [['Broker', 4], ['ConfigMap', 8]]);
    const json = JSON.stringify([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' } }, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'b', namespace: 'ns' } }], null, 2);
    const fromJson = parseManifestFile('a.json', json);
    assert.deepEqual(fromJson.objects.map((o) => `${o.object.metadata.namespace}/${o.object.metadata.name}`), ['default/a', 'ns/b']);
  });

  test('empty documents and comments are skipped', () => {
    assert.deepEqual(parseManifestFile('a.yaml', '# nothing\n---\n---\n'), { objects: [], problems: [] });
  });
});

test('stableUid is a version-5 UUID that depends only on kind/namespace/name', () => {
  const uid = stableUid('Trigger/default/t');
  assert.match(uid, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(stableUid('Trigger/default/t'), uid);
  assert.notEqual(stableUid('Trigger/default/u'), uid);
});

async function folder(t: TestContext, files: Record<string, string>, timing = { debounceMs: 20, pollMs: 100 }): Promise<{ dir: string; source: ManifestSource; changes: () => number }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kb-manifests-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  const source = new ManifestSource({ dir, logger: silentLogger(), ...timing });
  let changes = 0;
  await source.start(() => changes++);
  t.after(() => source.close());
  return { dir, source, changes: () => changes };
}

const names = (source: ManifestSource): string[] => source.objects().map((o) => `${o.kind}/${o.metadata.name}`);

describe('ManifestSource', () => {
  test('loads *.yaml, *.yml and *.json, skipping other files and dotfiles, in file-name order', async (t) => {
    const { source } = await folder(t, {
      'b.yml': trigger('t1'),
      'a.yaml': BROKER,
      'c.json': JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' } }),
      'notes.txt': 'not a manifest',
      '.#a.yaml': 'kind: [',
    });
    assert.deepEqual(names(source), ['Broker/default', 'Trigger/t1', 'ConfigMap/cm']);
    assert.deepEqual(source.problems(), []);
    const [broker] = source.objects();
    assert.equal(broker!.metadata.uid, stableUid('Broker/default/default'));
    assert.equal(broker!.metadata.generation, 1);
    assert.match(broker!.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT/);
  });

  test('notices a file added, changed and removed while running; the generation counts spec changes', async (t) => {
    const { dir, source, changes } = await folder(t, { 'broker.yaml': BROKER });
    await writeFile(path.join(dir, 'trigger.yaml'), trigger('t1'));
    await waitUntil(() => names(source).includes('Trigger/t1'), { message: 'the new trigger' });
    assert.ok(changes() >= 1);
    const before = source.objects().find((o) => o.kind === 'Trigger')!;
    await writeFile(path.join(dir, 'trigger.yaml'), trigger('t1', 'b'));
    await waitUntil(() => source.objects().find((o) => o.kind === 'Trigger')?.metadata.generation === 2, { message: 'generation 2' });
    const after = source.objects().find((o) => o.kind === 'Trigger')!;
    assert.equal(after.metadata.uid, before.metadata.uid);
    assert.equal(after.metadata.creationTimestamp, before.metadata.creationTimestamp);
    await writeFile(path.join(dir, 'trigger.yaml'), `# same again\n${trigger('t1', 'b')}`);
    await source.reload();
    assert.equal(source.objects().find((o) => o.kind === 'Trigger')?.metadata.generation, 2, 'a comment is not a spec change');
    await unlink(path.join(dir, 'trigger.yaml'));
    await waitUntil(() => !names(source).includes('Trigger/t1'), { message: 'the trigger to go' });
  });

  test('a file caught while it is saved in place (emptied, not yet written) is not applied: its objects stay, as they were', async (t) => {
    // A long settle time and a quick poll: without the settle the poll reads the emptied file.
    const { dir, source, changes } = await folder(t, { 'a.yaml': BROKER, 't.yaml': trigger('t1') }, { debounceMs: 2000, pollMs: 20 });
    const before = source.objects().find((o) => o.kind === 'Trigger')!;
    const changesBefore = changes();
    await writeFile(path.join(dir, 't.yaml'), '');
    await sleep(300);
    assert.deepEqual(names(source), ['Broker/default', 'Trigger/t1'], 'the emptied file is not applied while it may still be written');
    await writeFile(path.join(dir, 't.yaml'), trigger('t1'));
    await sleep(2600);
    const after = source.objects().find((o) => o.kind === 'Trigger')!;
    assert.equal(after.metadata.generation, 1);
    assert.equal(after.metadata.creationTimestamp, before.metadata.creationTimestamp);
    assert.equal(changes(), changesBefore, 'no change was published: the trigger never went away');
    // A file emptied on purpose is applied once it has settled.
    await writeFile(path.join(dir, 't.yaml'), '');
    await waitUntil(() => !names(source).includes('Trigger/t1'), { message: 'the trigger to go once the empty file settled' });
  });

  test('a file that breaks keeps its last good content in force and is reported until fixed', async (t) => {
    const { dir, source } = await folder(t, { 'a.yaml': BROKER, 't.yaml': trigger('t1') });
    await writeFile(path.join(dir, 't.yaml'), `${trigger('t1')}  bad: [\n`);
    await source.reload();
    assert.deepEqual(names(source), ['Broker/default', 'Trigger/t1']);
    const problems = source.problems();
    assert.equal(problems[0]?.source, 't.yaml');
    assert.equal(problems[0]?.document, 1);
    assert.ok(problems[0]?.line !== undefined && problems[0].line >= 11);
    assert.ok(problems.some((p) => /last good version/.test(p.message)));
    await writeFile(path.join(dir, 't.yaml'), trigger('t2'));
    await source.reload();
    assert.deepEqual(names(source), ['Broker/default', 'Trigger/t2']);
    assert.deepEqual(source.problems(), []);
  });

  test('a file that never was good contributes its good documents', async (t) => {
    const { source } = await folder(t, { 'a.yaml': `${BROKER}---\nkind: [\n---\n${trigger('t1')}` });
    assert.deepEqual(names(source), ['Broker/default', 'Trigger/t1']);
    assert.equal(source.problems()[0]?.document, 2);
  });

  test('a second definition of the same object is refused; the first (by file name) wins', async (t) => {
    const { source } = await folder(t, { 'a.yaml': trigger('t1', 'first'), 'b.yaml': trigger('t1', 'second') });
    assert.equal(source.objects().length, 1);
    assert.deepEqual((source.objects()[0]!.spec as { filter: unknown }).filter, { attributes: { type: 'first' } });
    assert.match(source.problems()[0]!.message, /already defined in a\.yaml \(document 1\)/);
    assert.equal(source.problems()[0]!.source, 'b.yaml');
  });
});
