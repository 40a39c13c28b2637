// What `kubectl apply` refuses at once, as Knative's admission webhook would: the OpenAPI
// constraints and CEL rules (x-kubernetes-validations) of crds/, on a real kube-apiserver. Each
// bad object gets a 422 whose message names the field and says what is wrong; what the schema
// cannot check stays in the Ready condition (test/unit/controller covers those).
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { eventingPath, startTestKube } from '../helpers/kube.js';

const kube = await startTestKube();
const NS = 'default';

const trigger = (name: string, spec: Record<string, unknown>): Record<string, unknown> => ({
  apiVersion: 'eventing.knative.dev/v1',
  kind: 'Trigger',
  metadata: { name, namespace: NS },
  spec,
});
const good = { broker: 'default', subscriber: { uri: 'http://orders.default.svc.cluster.local/' } };

/** A dry-run create: nothing is stored, every validation runs. */
const tryCreate = (path: string, object: unknown) => kube.create(`${path}?dryRun=All`, object);

function refusal(body: { message?: string; details?: { causes?: { field?: string; message?: string }[] } }): string {
  return body.message ?? JSON.stringify(body);
}

describe('CRD validation at apply time', () => {
  test('a well-formed Trigger, with every dialect and the delivery fields, is accepted', async () => {
    const created = await tryCreate(eventingPath('triggers', NS), trigger('ok', {
      ...good,
      filters: [
        { exact: { type: 'com.example.order.created' } },
        { any: [{ prefix: { source: '/shop' } }, { cesql: "subject LIKE 'eu-%'" }] },
        { not: { suffix: { subject: '-test' } } },
        { all: [{ exact: { type: 'a' } }] },
      ],
      delivery: { retry: 3, backoffPolicy: 'exponential', backoffDelay: 'PT0.2S', timeout: 'PT5S', retryAfterMax: 'PT1M', format: 'json', deadLetterSink: { ref: { apiVersion: 'v1', kind: 'Service', name: 'dls' }, uri: '/dead' } },
    }));
    assert.equal(created.status, 201, refusal(created.body));
  });

  const refused: { what: string; spec: Record<string, unknown> | undefined; field: RegExp; says: RegExp }[] = [
    { what: 'no spec', spec: undefined, field: /spec/, says: /Required value/ },
    { what: 'no broker', spec: { subscriber: good.subscriber }, field: /spec\.broker/, says: /Required value/ },
    { what: 'an empty broker', spec: { ...good, broker: '' }, field: /spec\.broker/, says: /at least 1 chars long/ },
    { what: 'no subscriber', spec: { broker: 'default' }, field: /spec\.subscriber/, says: /Required value/ },
    { what: 'a subscriber with neither ref nor uri', spec: { broker: 'default', subscriber: {} }, field: /spec\.subscriber/, says: /needs a ref or a uri/ },
    { what: 'a relative uri without a ref', spec: { broker: 'default', subscriber: { uri: '/events' } }, field: /spec\.subscriber/, says: /absolute http or https URL/ },
    { what: 'an absolute uri with a ref', spec: { broker: 'default', subscriber: { ref: { apiVersion: 'v1', kind: 'Service', name: 's' }, uri: 'http://x/' } }, field: /spec\.subscriber/, says: /must be relative/ },
    { what: 'a ref without a name', spec: { broker: 'default', subscriber: { ref: { apiVersion: 'v1', kind: 'Service' } } }, field: /spec\.subscriber\.ref\.name/, says: /Required value/ },
    { what: 'an unknown backoffPolicy', spec: { ...good, delivery: { backoffPolicy: 'fibonacci' } }, field: /spec\.delivery\.backoffPolicy/, says: /"linear", "exponential"/ },
    { what: 'a backoffDelay that is not ISO 8601', spec: { ...good, delivery: { backoffDelay: '200ms' } }, field: /spec\.delivery\.backoffDelay/, says: /ISO 8601 duration/ },
    { what: 'a bare P', spec: { ...good, delivery: { timeout: 'P' } }, field: /spec\.delivery\.timeout/, says: /ISO 8601 duration/ },
    { what: 'a T without a time part', spec: { ...good, delivery: { retryAfterMax: 'P1DT' } }, field: /spec\.delivery\.retryAfterMax/, says: /ISO 8601 duration/ },
    { what: 'a negative retry', spec: { ...good, delivery: { retry: -1 } }, field: /spec\.delivery\.retry/, says: /greater than or equal to 0/ },
    { what: 'an unknown format', spec: { ...good, delivery: { format: 'xml' } }, field: /spec\.delivery\.format/, says: /"json", "binary"/ },
    { what: 'a dead-letter sink with neither ref nor uri', spec: { ...good, delivery: { deadLetterSink: {} } }, field: /spec\.delivery\.deadLetterSink/, says: /needs a ref or a uri/ },
    { what: 'two dialects in one filter', spec: { ...good, filters: [{ exact: { type: 'a' }, prefix: { source: 'b' } }] }, field: /spec\.filters\[0\]/, says: /exactly one dialect/ },
    { what: 'an empty filter', spec: { ...good, filters: [{}] }, field: /spec\.filters\[0\]/, says: /exactly one dialect/ },
    { what: 'an empty exact', spec: { ...good, filters: [{ exact: {} }] }, field: /spec\.filters\[0\]\.exact/, says: /empty 'exact'/ },
    { what: 'an upper-case attribute name', spec: { ...good, filters: [{ prefix: { Type: 'a' } }] }, field: /spec\.filters\[0\]\.prefix/, says: /lower-case letters and digits/ },
    { what: 'an empty value in suffix', spec: { ...good, filters: [{ suffix: { type: '' } }] }, field: /spec\.filters\[0\]\.suffix/, says: /non-empty value/ },
    { what: 'an empty any', spec: { ...good, filters: [{ any: [] }] }, field: /spec\.filters\[0\]\.any/, says: /at least 1 items/ },
    { what: 'an empty cesql', spec: { ...good, filters: [{ cesql: '' }] }, field: /spec\.filters\[0\]\.cesql/, says: /at least 1 chars long/ },
  ];
  for (const { what, spec, field, says } of refused) {
    test(`a Trigger with ${what} is refused`, async () => {
      const object = trigger('bad', spec ?? {});
      if (spec === undefined) delete object['spec'];
      const response = await tryCreate(eventingPath('triggers', NS), object);
      assert.equal(response.status, 422, `expected a refusal, got ${response.status}: ${JSON.stringify(response.body)}`);
      const message = refusal(response.body);
      assert.match(message, field, message);
      assert.match(message, says, message);
    });
  }

  test("a Trigger's spec.broker cannot change; its other fields can", async () => {
    const created = await kube.create(eventingPath('triggers', NS), trigger('moving', good));
    assert.equal(created.status, 201, refusal(created.body));
    const moved = await kube.patch(eventingPath('triggers', NS, 'moving'), { spec: { broker: 'other' } });
    assert.equal(moved.status, 422);
    assert.match(refusal(moved.body), /spec\.broker: Invalid value: "other": spec\.broker is immutable; delete the Trigger and create it again to move it/);
    const refiltered = await kube.patch(eventingPath('triggers', NS, 'moving'), { spec: { filters: [{ exact: { type: 'b' } }] } });
    assert.equal(refiltered.status, 200, refusal(refiltered.body));
  });

  test("a Broker's delivery is checked the same way", async () => {
    const broker = (delivery: Record<string, unknown>) => ({ apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', metadata: { name: 'b', namespace: NS }, spec: { delivery } });
    const ok = await tryCreate(eventingPath('brokers', NS), broker({ retry: 2, backoffPolicy: 'linear', backoffDelay: 'PT1S', deadLetterSink: { uri: 'http://dls.example/' } }));
    assert.equal(ok.status, 201, refusal(ok.body));
    const badPolicy = await tryCreate(eventingPath('brokers', NS), broker({ backoffPolicy: 'sometimes' }));
    assert.equal(badPolicy.status, 422);
    assert.match(refusal(badPolicy.body), /spec\.delivery\.backoffPolicy: Unsupported value: "sometimes": supported values: "linear", "exponential"/);
    // (CEL rules run only once the schema's own checks pass, so this one gets its own object.)
    const badDelay = await tryCreate(eventingPath('brokers', NS), broker({ backoffDelay: '1s' }));
    assert.equal(badDelay.status, 422);
    assert.match(refusal(badDelay.body), /spec\.delivery\.backoffDelay: Invalid value: "1s": must be an ISO 8601 duration such as PT0\.5S or PT1M/);
  });

  test('KafkaSource: v1beta1 and v1 both take a well-formed source; the schema refuses the rest', async () => {
    const source = (version: string, name: string, spec: Record<string, unknown>) =>
      ({ apiVersion: `sources.knative.dev/${version}`, kind: 'KafkaSource', metadata: { name, namespace: NS }, spec });
    const path = (version: string) => `/apis/sources.knative.dev/${version}/namespaces/${NS}/kafkasources`;
    const spec = {
      topics: ['orders'], bootstrapServers: ['kafka:9092'], consumerGroup: 'g', initialOffset: 'earliest', ordering: 'unordered', consumers: 1,
      sink: { ref: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'default' } },
      delivery: { retry: 2, deadLetterSink: { uri: 'http://dls.example/' } },
      ceOverrides: { extensions: { team: 'billing' } },
      net: { sasl: { enable: false } },
    };
    for (const version of ['v1beta1', 'v1']) {
      const created = await tryCreate(path(version), source(version, `ok-${version}`, spec));
      assert.equal(created.status, 201, refusal(created.body));
    }
    const refused: [string, Record<string, unknown>, RegExp][] = [
      ['no topics', { ...spec, topics: [] }, /spec\.topics/],
      ['no sink', { ...spec, sink: undefined }, /spec\.sink: Required value/],
      ['an unknown initialOffset', { ...spec, initialOffset: 'middle' }, /spec\.initialOffset: Unsupported value/],
      ['an unknown ordering', { ...spec, ordering: 'sorted' }, /spec\.ordering: Unsupported value/],
      ['an override of a required attribute', { ...spec, ceOverrides: { extensions: { type: 'x' } } }, /cannot be overridden/],
      ['an upper-case extension name', { ...spec, ceOverrides: { extensions: { Team: 'x' } } }, /lower-case letters and digits/],
      ['a sink with neither ref nor uri', { ...spec, sink: {} }, /spec\.sink: .*needs a ref or a uri/],
    ];
    for (const [what, bad, says] of refused) {
      const response = await tryCreate(path('v1beta1'), source('v1beta1', 'bad', bad));
      assert.equal(response.status, 422, `${what}: ${refusal(response.body)}`);
      assert.match(refusal(response.body), says, what);
    }
  });

  test('every example manifest passes (the rules refuse nothing Knative accepts in them)', async () => {
    const root = new URL('../../examples/', import.meta.url);
    let checked = 0;
    for (const entry of await readdir(root, { recursive: true })) {
      if (!entry.endsWith('.yaml')) continue;
      for (const doc of parseAllDocuments(await readFile(new URL(entry, root), 'utf8'))) {
        const object = doc.toJS() as { apiVersion: string; kind: string; metadata: { namespace?: string } } | null;
        if (object === null || !['Broker', 'Trigger'].includes(object.kind)) continue;
        const plural = object.kind === 'Broker' ? 'brokers' : 'triggers';
        const response = await tryCreate(eventingPath(plural, object.metadata.namespace ?? NS), object);
        assert.equal(response.status, 201, `examples/${entry}: ${refusal(response.body)}`);
        checked++;
      }
    }
    assert.ok(checked >= 5, `checked ${checked} Brokers and Triggers`);
  });
});
