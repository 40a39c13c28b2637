import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ContractWriter } from '../../../controller/contract-writer.js';
import type { Contract, Resource } from '../../../core/contract/types.js';

const resource = (name: string): Resource => ({
  uid: name, kind: 'Broker', reference: { kind: 'Broker', namespace: 'default', name, uid: name },
  topics: [`t-${name}`], ingress: { path: `/default/${name}`, contentMode: 'binary' }, egressConfig: null, egresses: [],
});

test('publishes only when the resources change, bumping the generation by one each time', async () => {
  const published: Contract[] = [];
  const writer = new ContractWriter((c) => void published.push(c));
  assert.equal((await writer.write([]))?.generation, 1, 'the first contract is published even when empty');
  assert.equal(await writer.write([]), undefined);
  assert.equal((await writer.write([resource('a')]))?.generation, 2);
  assert.equal(await writer.write([resource('a')]), undefined, 'equal content, new objects: no new generation');
  assert.equal((await writer.write([resource('a'), resource('b')]))?.generation, 3);
  assert.deepEqual(published.map((c) => c.generation), [1, 2, 3]);
  assert.equal(writer.current()?.generation, 3);
});

test('continues from the generation published before a restart', async () => {
  const writer = new ContractWriter(() => undefined, 41);
  assert.equal((await writer.write([]))?.generation, 42);
});

test('a failing sink publishes nothing, and the next write tries the same generation again', async () => {
  let fail = true;
  const writer = new ContractWriter(() => {
    if (fail) throw new Error('disk full');
  });
  await assert.rejects(writer.write([]), /disk full/);
  fail = false;
  assert.equal((await writer.write([]))?.generation, 1);
});
