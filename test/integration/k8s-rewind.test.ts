// Rewind in Kubernetes mode, against a real kube-apiserver with the data plane in this process
// (as the cluster wires it: the contract over HTTP, the dispatcher's reports to the controller):
//
//   kubectl annotate trigger replayed kafka-broker.knative.dev/rewind-to=earliest
//     controller ──contract: egress.rewind {id, kind, to, who}──▶ dispatcher (applies the id once)
//     dispatcher ──POST /data-plane/faults {rewinds}──▶ controller ──status.rewinds, Event──▶ API
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CoreV1Event } from '@kubernetes/client-node';
import type { RunningIngress } from '../../broker-ingress/main.js';
import type { HttpContractSource } from '../../core/contract/http-source.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import { REWIND_ID_ANNOTATION, REWIND_TO_ANNOTATION, type RewindOutcome } from '../../core/rewind.js';
import { REPLAY_EXTENSION } from '../../dispatcher/dispatch.js';
import { startRecordingServer, type RecordingServer } from '../helpers/http.js';
import { startTestKube } from '../helpers/kube.js';
import { decodeRequest } from '../helpers/servers.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';
import { BROKERS, SYSTEM_NAMESPACE, TRIGGERS, broker, create, ensureNamespace, startReportingDataPlane, trigger, waitForReady, type ReportingDataPlane, type RunningController } from './k8s-harness.js';

const kube = await startTestKube();
await ensureNamespace(kube, SYSTEM_NAMESPACE);

describe('rewind by annotation in Kubernetes mode', { timeout: 240_000 }, () => {
  const ns = uniqueName('k8s-rewind').toLowerCase();
  const log = new MemoryEventLog();
  const wait = { timeoutMs: 60_000, intervalMs: 100 };
  let plane: ReportingDataPlane | undefined;
  let running: RunningController;
  let sources: readonly HttpContractSource[];
  let ingress: RunningIngress;
  let replayed: RecordingServer;
  let untouched: RecordingServer;

  const events = (server: RecordingServer) => server.requests.flatMap((r) => decodeRequest(r));
  const replays = (server: RecordingServer) => events(server).filter((e) => String(e.attributes[REPLAY_EXTENSION]) === 'true');
  const rewinds = async (name: string): Promise<RewindOutcome[]> => (await kube.get(TRIGGERS(ns, name))).body?.status?.rewinds ?? [];
  const kubeEvents = async (name: string): Promise<CoreV1Event[]> => (await running.api.listEvents(ns)).filter((e) => e.involvedObject.name === name);
  /** As `kubectl annotate --overwrite` does it: a merge patch under kubectl's field manager. */
  const annotate = async (name: string, annotations: Record<string, string>): Promise<void> => {
    const response = await kube.patch(`${TRIGGERS(ns, name)}?fieldManager=kubectl-annotate`, { metadata: { annotations } });
    assert.equal(response.status, 200, JSON.stringify(response.body));
  };
  const send = async (id: string): Promise<void> => {
    const sent = await fetch(`${ingress.url}/${ns}/orders`, {
      method: 'POST', headers: { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/test', 'ce-type': 'order.created', 'content-type': 'application/json' }, body: '{}',
    });
    assert.equal(sent.status, 202, await sent.text());
  };

  before(async () => {
    await ensureNamespace(kube, ns);
    replayed = await startRecordingServer();
    untouched = await startRecordingServer();
    plane = await startReportingDataPlane(kube, log, { shutdownDeadlineMs: 500, commitIntervalMs: 100 });
    ({ running, sources, ingress } = plane);
  });

  after(async () => {
    await plane?.close();
    await log.close();
    await replayed?.close();
    await untouched?.close();
  });

  test('annotating a Trigger re-delivers its events to it only, once; the same annotation again does nothing; a new rewind-id does it again', async () => {
    await create(kube, BROKERS(ns), broker(ns, 'orders'));
    await create(kube, TRIGGERS(ns), trigger(ns, 'replayed', 'orders', { uri: replayed.url }));
    await create(kube, TRIGGERS(ns), trigger(ns, 'untouched', 'orders', { uri: untouched.url }));
    await waitForReady(kube, TRIGGERS(ns, 'replayed'));
    await waitForReady(kube, TRIGGERS(ns, 'untouched'));
    await waitUntil(() => (sources[1]!.current()?.resources.flatMap((r) => r.egresses).length ?? 0) >= 2, { ...wait, message: 'the dispatcher runs both triggers' });
    await send('e-1');
    await send('e-2');
    await waitUntil(() => events(replayed).length === 2 && events(untouched).length === 2, { ...wait, message: 'delivered to both' });

    await annotate('replayed', { [REWIND_TO_ANNOTATION]: 'earliest' });
    const recorded = await waitUntil(async () => {
      const list = await rewinds('replayed');
      return list.length === 1 ? list : undefined;
    }, { ...wait, message: 'status.rewinds records the rewind' });
    const [record] = recorded;
    assert.equal(record!.state, 'done', JSON.stringify(record));
    assert.equal(record!.kind, 'rewind');
    assert.equal(record!.to, 'earliest');
    assert.equal(record!.who, 'kubectl-annotate');
    assert.equal(record!.redelivered, 2);
    assert.match(record!.from, /^0:\d+/);
    assert.ok(record!.generation > 0);
    assert.match(record!.at, /^\d{4}-\d{2}-\d{2}T/);
    await waitUntil(() => replays(replayed).length === 2, { ...wait, message: 'both events re-delivered, marked as replays' });
    assert.deepEqual(replays(replayed).map((e) => e.attributes['id']).sort(), ['e-1', 'e-2']);
    const event = await waitUntil(async () => (await kubeEvents('replayed')).find((e) => e.reason === 'Rewound'), { ...wait, message: 'a Rewound Event' });
    assert.equal(event.type, 'Normal');
    assert.match(event.message ?? '', /^rewind to earliest asked by kubectl-annotate: 2 events re-delivered, 0 skipped/);
    // Recorded, the request leaves the contract.
    await waitUntil(() => sources[1]!.current()?.resources.flatMap((r) => r.egresses).every((e) => e.rewind === undefined), { ...wait, message: 'the request gone from the contract' });

    // The same annotation applied again (and another change to the object): no second rewind.
    await annotate('replayed', { [REWIND_TO_ANNOTATION]: 'earliest', 'example.com/touched': 'yes' });
    await sleep(2000);
    assert.equal(replays(replayed).length, 2, 'no second rewind');
    assert.equal((await rewinds('replayed')).length, 1);
    assert.equal(events(replayed).length, 4);
    // The other trigger got each event once, none as a replay.
    assert.deepEqual(events(untouched).map((e) => e.attributes['id']).sort(), ['e-1', 'e-2']);
    assert.equal(replays(untouched).length, 0);

    // To move to the same place again, a new rewind-id.
    await annotate('replayed', { [REWIND_ID_ANNOTATION]: 'second' });
    await waitUntil(async () => (await rewinds('replayed')).length === 2, { ...wait, message: 'the second rewind recorded' });
    await waitUntil(() => replays(replayed).length === 4, { ...wait, message: 'replayed again' });
  });

  test('a bad annotation is a warning on Ready and changes nothing', async () => {
    await annotate('untouched', { 'kafka-broker.knative.dev/skip-to': 'earliest' });
    const ready = await waitUntil(async () => {
      const condition = (await kube.get(TRIGGERS(ns, 'untouched'))).body?.status?.conditions?.find((c: { type: string }) => c.type === 'Ready');
      return /skip takes a time or latest/.test(condition?.message ?? '') ? condition : undefined;
    }, { ...wait, message: 'the warning on Ready' });
    assert.equal(ready.status, 'True');
    assert.equal((await rewinds('untouched')).length, 0);
    assert.equal(replays(untouched).length, 0);
  });
});
