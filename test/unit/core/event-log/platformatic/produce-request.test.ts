import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NumericMap, produceV11, Producer, kGetApi, type MessageRecord } from '@platformatic/kafka';
import { createProduceRequest, writeProduceInOneBuffer } from '../../../../../core/event-log/platformatic/produce-request.js';

type Options = Parameters<typeof createProduceRequest>[3];

/** Fresh copies each time: the library writes timestamps into the messages it is given. */
function copies(messages: readonly MessageRecord[]): MessageRecord[] {
  return messages.map((m) => ({ ...m, headers: m.headers === undefined ? undefined : new Map(m.headers) }));
}

/** Both encodings of the same request, within one millisecond (a record without a timestamp gets "now"). */
function bothEncodings(acks: number, timeout: number, messages: readonly MessageRecord[], options: () => Options): { ours: Buffer; theirs: Buffer } {
  for (;;) {
    const before = Date.now();
    const ours = createProduceRequest(acks, timeout, copies(messages), options()).buffer;
    const theirs = produceV11.createRequest(acks, timeout, copies(messages), options()).buffer;
    if (Date.now() === before) return { ours, theirs };
  }
}

const h = (entries: Record<string, string>): Map<Buffer, Buffer> => new Map(Object.entries(entries).map(([k, v]) => [Buffer.from(k), Buffer.from(v)]));
const big = Buffer.alloc(300, 'v');

function sequences(entries: Record<string, number>): NumericMap {
  const map = new NumericMap();
  for (const [key, value] of Object.entries(entries)) map.set(key, value);
  return map;
}

const cases: { name: string; messages: MessageRecord[]; options: () => Options; acks?: number }[] = [
  {
    name: 'one record with CloudEvent headers, idempotent',
    messages: [{ topic: 'knative-broker-default-b', partition: 0, value: Buffer.from('{"a":1}'), headers: h({ ce_id: 'e-1', ce_source: '/s', ce_type: 't', ce_specversion: '1.0', 'content-type': 'application/json' }) }],
    options: () => ({ producerId: 4711n, producerEpoch: 3, sequences: sequences({ 'knative-broker-default-b:0': 1234 }) }),
    acks: -1,
  },
  {
    name: 'no key, no value, no headers, no options',
    messages: [{ topic: 't', partition: 2 } as MessageRecord],
    options: () => ({}),
  },
  {
    name: 'keys, values longer than one varint byte, empty header values',
    messages: [
      { topic: 't', partition: 1, key: Buffer.from('k1'), value: big, headers: h({ a: '', b: 'x'.repeat(200) }) },
      { topic: 't', partition: 1, key: Buffer.alloc(0), value: Buffer.alloc(0), headers: new Map() },
    ],
    options: () => ({ producerId: 1n, producerEpoch: 0, sequences: sequences({}) }),
    acks: -1,
  },
  {
    name: 'several topics and partitions, partitions out of order',
    messages: [
      { topic: 'b', partition: 2, value: Buffer.from('1') },
      { topic: 'a', partition: 0, value: Buffer.from('2') },
      { topic: 'b', partition: 0, value: Buffer.from('3') },
      { topic: 'b', partition: 2, value: Buffer.from('4') },
      { topic: 'a', partition: 10, value: Buffer.from('5') },
    ],
    options: () => ({ producerId: 99n, producerEpoch: 1, sequences: sequences({ 'b:2': 7, 'a:10': 2 ** 31 - 1 }) }),
    acks: -1,
  },
  {
    name: 'timestamps given, before and after the first (negative deltas)',
    messages: [
      { topic: 't', partition: 0, value: Buffer.from('a'), timestamp: 1_700_000_000_000n },
      { topic: 't', partition: 0, value: Buffer.from('b'), timestamp: 1_699_999_999_000n },
      { topic: 't', partition: 0, value: Buffer.from('c'), timestamp: 1_700_000_900_000n },
    ],
    options: () => ({ partitionLeaderEpoch: 5 }),
    acks: 1,
  },
  {
    name: 'many records (offset deltas past one varint byte), acks 0',
    messages: Array.from({ length: 200 }, (_, i) => ({ topic: 'many', partition: 0, value: Buffer.from(`v${i}`), headers: h({ ce_id: `e-${i}` }) })),
    options: () => ({}),
    acks: 0,
  },
];

for (const { name, messages, options, acks } of cases) {
  test(`Produce v11 in one buffer, the same bytes as the library's: ${name}`, () => {
    const { ours, theirs } = bothEncodings(acks ?? 1, 30_000, messages, options);
    assert.equal(ours.length, theirs.length);
    assert.deepEqual(ours, theirs);
  });
}

test('acks 0 is a request without a response, as the library marks it', () => {
  assert.equal(createProduceRequest(0, 0, copies(cases[1]!.messages), {}).context.noResponse, true);
  assert.equal(createProduceRequest(-1, 0, copies(cases[1]!.messages), {}).context.noResponse, undefined);
});

test("what it does not cover is the library's own encoding: compression, transactions", () => {
  const messages = [{ topic: 't', partition: 0, value: Buffer.alloc(100, 'z') }];
  for (const options of [{ compression: 'gzip' as const }, { transactionalId: 'tx' }]) {
    const { ours, theirs } = bothEncodings(1, 0, messages, () => options);
    assert.deepEqual(ours, theirs);
  }
  // And the uncompressed one differs from the compressed: the cases above do test the choice.
  const { ours } = bothEncodings(1, 0, messages, () => ({}));
  assert.notDeepEqual(ours, createProduceRequest(1, 0, copies(messages), { compression: 'gzip' }).buffer);
});

test('a producer answers its Produce v11 look-up with the one-buffer request, and other look-ups as before', async () => {
  const producer = new Producer({ clientId: 'produce-request-test', bootstrapBrokers: ['127.0.0.1:1'] });
  try {
    writeProduceInOneBuffer(producer);
    type GetApi = (name: string, callback: (error: Error | null, api: unknown) => void) => void;
    const getApi = (producer as unknown as Record<typeof kGetApi, GetApi>)[kGetApi];
    // The look-up needs the broker's API versions; give it a list as a broker would.
    (producer as unknown as Record<symbol, unknown>)[Object.getOwnPropertySymbols(producer).find((s) => s.description === 'plt.kafka.base.apis')!] = [
      { name: 'Produce', minVersion: 3, maxVersion: 11 },
      { name: 'Metadata', minVersion: 0, maxVersion: 12 },
    ];
    const lookUp = (name: string): Promise<unknown> => new Promise((resolve, reject) => getApi.call(producer, name, (error, api) => (error ? reject(error) : resolve(api))));
    const produce = (await lookUp('Produce')) as { key: number; version: number };
    assert.notEqual(produce, produceV11.api);
    assert.equal(produce.key, 0);
    assert.equal(produce.version, 11);
    assert.notEqual(await lookUp('Metadata'), undefined);
  } finally {
    await producer.close();
  }
});
