// Status an operator can trust, in Kubernetes mode against a real kube-apiserver: DataPlaneAvailable
// follows what the data-plane processes report applying (their polls of /contract), and the
// controller writes Kubernetes Events for Ready changes that `kubectl describe` would list.
//
//   ingress, dispatcher ──GET /contract?after=g&applied=g&process=..&role=..──▶ controller
//   controller ──status (DataPlaneAvailable, Ready)──▶ kube-apiserver ◀──Events── controller
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CoreV1Event } from '@kubernetes/client-node';
import type { RunningIngress } from '../../broker-ingress/main.js';
import type { HttpContractSource } from '../../core/contract/http-source.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import { startTestKube } from '../helpers/kube.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';
import { BROKERS, SYSTEM_NAMESPACE, TRIGGERS, broker, create, ensureNamespace, startReportingDataPlane, type ReportingDataPlane, type RunningController } from './k8s-harness.js';

const kube = await startTestKube();
await ensureNamespace(kube, SYSTEM_NAMESPACE);

describe('status and events in Kubernetes mode', { timeout: 180_000 }, () => {
  const ns = uniqueName('k8s-status').toLowerCase();
  const log = new MemoryEventLog();
  const wait = { timeoutMs: 30_000, intervalMs: 100 };
  let plane: ReportingDataPlane | undefined;
  let running: RunningController;
  let sources: readonly HttpContractSource[];
  const held = new AbortController();
  let ingress: RunningIngress;
  /** The admin API asks every caller for a token: the test API server's admin's. */
  const auth = (): Record<string, string> => ({ authorization: `Bearer ${kube.server.token}` });

  const dataPlane = (name: string) => async () => (await kube.get(BROKERS(ns, name))).body?.status?.conditions?.find((c: { type: string }) => c.type === 'DataPlaneAvailable');
  const events = async (name: string): Promise<CoreV1Event[]> => (await running.api.listEvents(ns)).filter((e) => e.involvedObject.name === name);

  before(async () => {
    await ensureNamespace(kube, ns);
    // The data plane in this process, as `kafka-broker ingress` and `dispatcher` wire it.
    plane = await startReportingDataPlane(kube, log, { shutdownDeadlineMs: 500, maxStallBackoffMs: 1000 });
    ({ running, sources, ingress } = plane);
  });

  after(async () => {
    held.abort();
    await plane?.close();
    await log.close();
  });

  test('a Broker is DataPlaneAvailable once the reporting processes applied its generation, and its Ready change is an Event', async () => {
    await create(kube, BROKERS(ns), broker(ns, 'orders'));
    await waitUntil(async () => (await dataPlane('orders')())?.status === 'True', { ...wait, message: 'DataPlaneAvailable True' });
    const carrying = sources[0]!.current()!.generation;
    assert.ok(sources.every((s) => (s.current()?.generation ?? 0) >= carrying));
    const list = await waitUntil(async () => {
      const found = (await events('orders')).filter((e) => e.reason === 'Ready' && e.type === 'Normal');
      return found.length > 0 ? found : undefined;
    }, { ...wait, message: 'a Ready Event on the Broker' });
    assert.equal(list[0]!.involvedObject.kind, 'Broker');
    assert.equal(list[0]!.involvedObject.uid, (await kube.get(BROKERS(ns, 'orders'))).body.metadata.uid);
    assert.match(list[0]!.message ?? '', /Broker is Ready/);
  });

  test('a dispatcher still on an older generation makes it DataPlaneAvailable False, with a Warning Event; catching up clears it', async () => {
    const current = sources[0]!.current()!.generation;
    // A second dispatcher that is behind: its poll is held open (it is live) and says it applied the generation before.
    const url = `${running.adminUrl}/contract?after=${current - 1}&timeoutSeconds=60&applied=${current - 1}&process=dispatcher-2&role=dispatcher`;
    const behind = fetch(url, { signal: held.signal, headers: auth() }).catch(() => undefined);
    await waitUntil(async () => (await dataPlane('orders')())?.status === 'False', { ...wait, message: 'DataPlaneAvailable False' });
    const condition = await dataPlane('orders')();
    assert.equal(condition.reason, 'DataPlaneNotAvailable');
    assert.match(condition.message, /1 of 2 dispatcher processes have applied contract generation \d+/);
    const warning = await waitUntil(
      async () => (await events('orders')).find((e) => e.type === 'Warning' && e.reason === 'DataPlaneNotAvailable' && /1 of 2 dispatcher processes/.test(e.message ?? '')),
      { ...wait, message: 'a Warning Event' },
    );
    assert.equal(warning.involvedObject.kind, 'Broker');
    assert.match(warning.message ?? '', /^Broker is not Ready: 1 of 2 dispatcher processes have applied contract generation \d+$/);

    // It catches up: its next poll reports the generation in force.
    const caughtUp = new AbortController();
    const next = fetch(`${running.adminUrl}/contract?after=${current}&timeoutSeconds=60&applied=${current}&process=dispatcher-2&role=dispatcher`, { signal: caughtUp.signal, headers: auth() }).catch(() => undefined);
    await waitUntil(async () => (await dataPlane('orders')())?.status === 'True', { ...wait, message: 'DataPlaneAvailable True again' });
    // Ready again: the same Event as before, counted twice rather than written again.
    const ready = await waitUntil(async () => (await events('orders')).find((e) => e.reason === 'Ready' && (e.count ?? 1) >= 2), { ...wait, message: 'the Ready Event counted twice' });
    assert.equal((await events('orders')).filter((e) => e.reason === 'Ready').length, 1, `one Ready Event: ${ready.message}`);
    caughtUp.abort();
    held.abort();
    await Promise.all([behind, next]);
  });

  test('a malformed report is refused in one line', async () => {
    const response = await fetch(`${running.adminUrl}/contract?applied=x&process=p&role=dispatcher`, { headers: auth() });
    assert.equal(response.status, 400);
    assert.match(((await response.json()) as { message: string }).message, /applied must be a contract generation/);
    const role = await fetch(`${running.adminUrl}/contract?applied=1&process=p&role=egress`, { headers: auth() });
    assert.equal(role.status, 400);
    assert.match(((await role.json()) as { message: string }).message, /role must be ingress or dispatcher, got "egress"/);
  });

  test('a Trigger whose subscriber and dead-letter sink both fail shows EventsHeld and a Warning Event', async () => {
    const trigger = {
      apiVersion: 'eventing.knative.dev/v1', kind: 'Trigger', metadata: { name: 'failing', namespace: ns },
      spec: { broker: 'orders', subscriber: { uri: 'http://127.0.0.1:1/subscriber' }, delivery: { retry: 0, deadLetterSink: { uri: 'http://127.0.0.1:1/dead-letters' } } },
    };
    await create(kube, TRIGGERS(ns), trigger);
    await waitUntil(() => sources[1]!.current()?.resources.some((r) => r.egresses.some((e) => e.reference.name === 'failing')), { ...wait, message: 'the dispatcher has the trigger' });
    const sent = await fetch(`${ingress.url}/${ns}/orders`, {
      method: 'POST',
      headers: { 'ce-specversion': '1.0', 'ce-id': 'held-1', 'ce-source': '/test', 'ce-type': 'order.created', 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(sent.status, 202, await sent.text());
    const warning = await waitUntil(async () => (await events('failing')).find((e) => e.type === 'Warning' && e.reason === 'EventsHeld'), { ...wait, message: 'an EventsHeld Warning' });
    assert.equal(warning.involvedObject.kind, 'Trigger');
    assert.match(warning.message ?? '', /its subscriber and its dead-letter sink fail \(subscriber http:\/\/127\.0\.0\.1:1\/subscriber: .*; dead-letter sink http:\/\/127\.0\.0\.1:1\/dead-letters: .*\); they are retried, never dropped/);
    const status = (await kube.get(TRIGGERS(ns, 'failing'))).body.status;
    const condition = status.conditions.find((c: { type: string }) => c.type === 'EventsHeld');
    assert.equal(condition?.status, 'True');
    // Held rounds go on; the Event is not written again for each.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal((await events('failing')).filter((e) => e.reason === 'EventsHeld').length, 1);
  });
});
