import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { ContractWriter } from '../../../controller/contract-writer.js';
import { DataPlaneReports } from '../../../controller/data-plane-reports.js';
import { Reconciler } from '../../../controller/reconciler.js';
import type { KnObject } from '../../../controller/resources.js';
import type { ResourceSource } from '../../../controller/sources/source.js';
import type { Contract } from '../../../core/contract/types.js';
import { MemoryEventLog } from '../../../core/event-log/memory.js';
import type { ConsumedRecord, EventLog } from '../../../core/event-log/port.js';
import { silentLogger } from '../../../core/logger.js';
import { waitUntil } from '../../helpers/wait.js';
import { broker, condition, settings, trigger } from './fixtures.js';

/** The reconcile loop against the in-memory event log, with objects handed in directly. */

class ListSource implements ResourceSource {
  private onChange: () => void = () => {};
  constructor(private list: KnObject[] = []) {}
  async start(onChange: () => void): Promise<void> {
    this.onChange = onChange;
  }
  objects(): readonly KnObject[] {
    return this.list;
  }
  problems(): [] {
    return [];
  }
  set(list: KnObject[]): void {
    this.list = list;
    this.onChange();
  }
  async close(): Promise<void> {}
}

function setup(t: TestContext, objects: KnObject[], log: EventLog = new MemoryEventLog()) {
  const source = new ListSource(objects);
  const contracts: Contract[] = [];
  const reconciler = new Reconciler({
    source, log, settings, logger: silentLogger(),
    contracts: new ContractWriter((c) => void contracts.push(c)),
    retryMinMs: 20, retryMaxMs: 100, deleteGraceMs: 0,
  });
  t.after(() => reconciler.close());
  t.after(() => log.close());
  const status = (kind: string, name: string) => reconciler.objects().find((o) => o.kind === kind && o.metadata.name === name)?.status;
  return { source, reconciler, contracts, log, status };
}

const TOPIC = 'knative-broker-default-b';
const GROUP = 'knative-trigger-default-t';

async function received(log: EventLog, groupId: string, count: number): Promise<string[]> {
  const values: string[] = [];
  const consumer = await log.consume({ groupId, topics: [TOPIC], onRecord: (r: ConsumedRecord) => { values.push(r.value!.toString()); r.done(); } });
  try {
    await waitUntil(() => values.length >= count, { message: `${count} records` });
    return values;
  } finally {
    await consumer.close();
  }
}

describe('Reconciler', () => {
  test('publishes a first contract even with nothing to do', async (t) => {
    const { reconciler, contracts } = setup(t, []);
    await reconciler.start();
    assert.deepEqual(contracts.map((c) => [c.generation, c.resources.length]), [[1, 0]]);
  });

  test('creates the topic, fixes the group at the end of the topic, then reports Ready', async (t) => {
    const log = new MemoryEventLog();
    const { reconciler, contracts, status, source } = setup(t, [broker('b')], log);
    await reconciler.start();
    assert.equal((await log.describeTopic(TOPIC))?.partitions, 10);
    assert.equal(condition(status('Broker', 'b'), 'Ready')?.status, 'True');
    // An event accepted before the trigger exists is history, not for the new trigger.
    await log.append(TOPIC, [{ value: Buffer.from('before') }]);
    source.set([broker('b'), trigger('t', { broker: 'b' })]);
    await reconciler.reconcile();
    assert.equal(condition(status('Trigger', 't'), 'Ready')?.status, 'True');
    assert.equal(contracts.at(-1)!.resources[0]!.egresses[0]!.consumerGroup, GROUP);
    // Every event accepted after Ready reaches the trigger's group.
    await log.append(TOPIC, [{ value: Buffer.from('after') }]);
    assert.deepEqual(await received(log, GROUP, 1), ['after']);
  });

  test('a changed trigger keeps its group and its position; nothing is deleted', async (t) => {
    const log = new MemoryEventLog();
    const deleted: string[] = [];
    const spy = Object.assign(Object.create(log) as EventLog, { deleteGroup: async (g: string) => { deleted.push(g); } });
    const { reconciler, source, status } = setup(t, [broker('b'), trigger('t', { broker: 'b' })], spy);
    await reconciler.start();
    await log.append(TOPIC, [{ value: Buffer.from('pending') }]);
    source.set([broker('b'), trigger('t', { broker: 'b', filter: { attributes: { type: 'x' } } }, { generation: 2 })]);
    await reconciler.reconcile();
    assert.equal(status('Trigger', 't')?.observedGeneration, 2);
    assert.deepEqual(deleted, []);
    assert.deepEqual(await received(log, GROUP, 1), ['pending'], 'the event accepted before the change is still to be delivered');
  });

  test('a trigger whose broker appears later becomes Ready', async (t) => {
    const { reconciler, source, status } = setup(t, [trigger('t', { broker: 'b' })]);
    await reconciler.start();
    assert.equal(condition(status('Trigger', 't'), 'Ready')?.reason, 'BrokerDoesNotExist');
    source.set([trigger('t', { broker: 'b' }), broker('b')]);
    await waitUntil(() => condition(status('Trigger', 't'), 'Ready')?.status === 'True', { message: 'trigger Ready' });
  });

  test("removing a trigger deletes its group; removing a broker deletes its topic", async (t) => {
    const log = new MemoryEventLog();
    const { reconciler, source, contracts } = setup(t, [broker('b'), trigger('t', { broker: 'b' })], log);
    await reconciler.start();
    await log.append(TOPIC, [{ value: Buffer.from('x') }]);
    source.set([broker('b')]);
    await reconciler.reconcile();
    assert.deepEqual(contracts.at(-1)!.resources[0]!.egresses, []);
    // The group is gone: a consumer under its name starts from the end, like a new one.
    await log.append(TOPIC, [{ value: Buffer.from('y') }]);
    await log.initGroup(GROUP, TOPIC, 'earliest');
    assert.deepEqual(await received(log, GROUP, 2), ['x', 'y']);
    source.set([]);
    await reconciler.reconcile();
    await waitUntil(async () => (await log.describeTopic(TOPIC)) === undefined, { message: 'topic deleted' });
    assert.deepEqual(contracts.at(-1)!.resources, []);
  });

  test('publishes a new generation only when something changed', async (t) => {
    const { reconciler, contracts, source } = setup(t, [broker('b')]);
    await reconciler.start();
    const generation = contracts.at(-1)!.generation;
    await reconciler.reconcile();
    source.set([broker('b')]);
    await reconciler.reconcile();
    assert.equal(contracts.at(-1)!.generation, generation);
  });

  test('a log that fails is reported on status and retried until it works', async (t) => {
    const log = new MemoryEventLog();
    let down = true;
    const flaky = Object.assign(Object.create(log) as EventLog, {
      ensureTopic: async (name: string, spec: Parameters<EventLog['ensureTopic']>[1]) => {
        if (down) throw new Error('connection refused');
        return log.ensureTopic(name, spec);
      },
    });
    const { reconciler, status } = setup(t, [broker('b')], flaky);
    await reconciler.start();
    assert.deepEqual(condition(status('Broker', 'b'), 'Ready'), { status: 'False', reason: 'FailedToCreateTopic', message: `failed to create topic ${TOPIC}: connection refused` });
    down = false;
    await waitUntil(() => condition(status('Broker', 'b'), 'Ready')?.status === 'True', { message: 'broker Ready after the retry' });
    assert.ok(status('Broker', 'b')!.conditions.every((c) => typeof c.lastTransitionTime === 'string'));
  });

  test('objects of kinds it does not handle are shown with a NotHandled status', async (t) => {
    const { reconciler } = setup(t, [broker('b', {}, { annotations: { 'eventing.knative.dev/broker.class': 'MTChannelBasedBroker' } })]);
    await reconciler.start();
    assert.equal(condition(reconciler.objects()[0]!.status, 'Ready')?.reason, 'NotHandled');
  });

  test('DataPlaneAvailable waits for every reporting process to apply the generation that carries the broker', async (t) => {
    const reports = new DataPlaneReports();
    t.after(() => reports.close());
    const source = new ListSource([]);
    const contracts: Contract[] = [];
    const log = new MemoryEventLog();
    const reconciler = new Reconciler({
      source, log, settings, logger: silentLogger(), dataPlaneReports: reports,
      contracts: new ContractWriter((c) => void contracts.push(c)),
      retryMinMs: 20, retryMaxMs: 100, deleteGraceMs: 0,
    });
    t.after(() => reconciler.close());
    t.after(() => log.close());
    const status = () => reconciler.objects().find((o) => o.kind === 'Broker')?.status;
    await reconciler.start();
    const ingress = reports.polling({ process: 'ingress-1', role: 'ingress', applied: contracts.at(-1)!.generation });
    const dispatcher = reports.polling({ process: 'dispatcher-1', role: 'dispatcher', applied: contracts.at(-1)!.generation });
    source.set([broker('b')]);
    await reconciler.reconcile();
    const carrying = contracts.at(-1)!.generation;
    assert.equal(contracts.at(-1)!.resources.length, 1);
    assert.deepEqual(condition(status(), 'DataPlaneAvailable'), {
      status: 'False', reason: 'DataPlaneNotAvailable',
      message: `0 of 1 ingress processes have applied contract generation ${carrying}; 0 of 1 dispatcher processes have applied contract generation ${carrying}`,
    });
    assert.equal(condition(status(), 'Ready')?.status, 'False');
    // The ingress applies it (its next poll says so): the dispatcher still holds it back.
    ingress();
    reports.polling({ process: 'ingress-1', role: 'ingress', applied: carrying });
    await waitUntil(() => condition(status(), 'DataPlaneAvailable')?.message === `0 of 1 dispatcher processes have applied contract generation ${carrying}`);
    dispatcher();
    reports.polling({ process: 'dispatcher-1', role: 'dispatcher', applied: carrying });
    await waitUntil(() => condition(status(), 'Ready')?.status === 'True', { message: 'Ready once both applied it' });
    // A later generation (a trigger added) does not take the broker's availability away.
    source.set([broker('b'), trigger('t', { broker: 'b' })]);
    await reconciler.reconcile();
    assert.ok(contracts.at(-1)!.generation > carrying);
    assert.equal(condition(status(), 'DataPlaneAvailable')?.status, 'True');
  });
});
