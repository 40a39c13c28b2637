/**
 * The start-up warm-up (issue 17): before the broker says Ready, a few thousand events go
 * through a private copy of the data path — the broker ingress (fastify, the CloudEvents codec,
 * an append), an in-memory log, the dispatcher (filter, delivery over undici) and a sink on
 * loopback — so that the code every real event runs is compiled and optimised by then.
 *
 * Why: a cold process spends about 1 ms of CPU per event on its first 500 events and ~0.2 ms
 * once warm (scripts/perf/warm-up-cost.mjs). At 1,000 events/s the first seconds after Ready
 * thus need more than a core; the backlog they leave took 10 s and more to drain, the start-up
 * tail of the end-to-end latency.
 *
 * In rounds, each on instances of its own (ingress, log, dispatcher, sink, agent): V8 compiles
 * for the objects it has seen, and a first new instance of the same classes (other field values,
 * other maps) throws much of that optimised code away again. So the warm-up makes that happen
 * before Ready, and the broker's real instances are the third set the code sees. Measured with
 * scripts/perf/warm-up-cost.mjs, both delivering all 3,000 events: the first 2,000 events after
 * Ready cost a median 22% less CPU in two rounds than in one (8 alternating pairs, all agreeing).
 * On a starved machine SEND_FOR_MS cuts the warm-up short (at a load of 20 on 2 cores, ~1,000
 * events in 5 s): then the second round is shortened or skipped.
 *
 * Nothing of it is visible: its own log, contract, ports (127.0.0.1, chosen by the system) and
 * sink; none of the broker's settings, topics, subscribers or metrics are used, and all of it is
 * closed before this returns. A failure only costs the warm-up (the caller logs it).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ingressConfigSchema } from '../broker-ingress/config.js';
import { startIngress } from '../broker-ingress/main.js';
import { brokerPath, brokerTopic, triggerGroup } from '../core/contract/paths.js';
import { InProcessContractSource } from '../core/contract/source.js';
import { CONTRACT_VERSION, type Contract } from '../core/contract/types.js';
import { MemoryEventLog } from '../core/event-log/memory.js';
import { silentLogger } from '../core/logger.js';
import { createMetricsRegistry } from '../core/metrics.js';
import { dispatcherConfigSchema } from '../dispatcher/config.js';
import { startDispatcher } from '../dispatcher/main.js';

export interface WarmUpResult {
  /** Events delivered to the private sink. */
  readonly events: number;
  /** Rounds run, each on instances of its own. */
  readonly rounds: number;
  readonly ms: number;
}

/** Rounds of the private data path, each on new instances (see above). */
export const WARM_UP_ROUNDS = 2;
/** Requests in flight at once: enough to exercise pooling, few enough to stay cheap. */
const CONCURRENCY = 16;
/** Past this no more events are sent (a starved machine): a warm-up must not hold start up for long. */
const SEND_FOR_MS = 5000;
/** ...and what was sent may take this much longer to arrive. */
const DRAIN_MS = 2000;
const NAMESPACE = 'kafka-broker-warm-up';
const NAME = 'warm-up';

/**
 * Sends `events` events (binary and structured, 1 KiB of data) through the private data path, in
 * WARM_UP_ROUNDS rounds of new instances, and waits until the sink has them all, or the deadline
 * (for all rounds together). `signal` stops the sending early (a start-up that failed meanwhile).
 */
export async function warmUp(events: number, signal?: AbortSignal): Promise<WarmUpResult> {
  const started = performance.now();
  if (events <= 0) return { events: 0, rounds: 0, ms: 0 };
  const deadlines = { sendUntil: started + SEND_FOR_MS, drainUntil: started + SEND_FOR_MS + DRAIN_MS };
  let delivered = 0;
  let rounds = 0;
  for (let round = 0; round < WARM_UP_ROUNDS && signal?.aborted !== true && performance.now() < deadlines.sendUntil; round++) {
    const share = Math.floor(events / WARM_UP_ROUNDS) + (round < events % WARM_UP_ROUNDS ? 1 : 0);
    if (share === 0) break;
    delivered += await warmUpRound(share, deadlines, signal);
    rounds++;
  }
  return { events: delivered, rounds, ms: performance.now() - started };
}

/** One round on instances of its own, all closed when it returns; resolves with the events delivered. */
async function warmUpRound(events: number, deadlines: { sendUntil: number; drainUntil: number }, signal?: AbortSignal): Promise<number> {
  let delivered = 0;
  let sent = 0;
  let sending = true;
  let allDelivered: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    allDelivered = resolve;
  });
  const sink = http.createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200).end();
      if (++delivered >= sent && !sending) allDelivered();
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const log = new MemoryEventLog({ retentionBytes: 64 * 1024 * 1024 });
  const contracts = new InProcessContractSource();
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const closers: (() => Promise<void>)[] = [];
  let deadline: NodeJS.Timeout | undefined;
  try {
    const topic = brokerTopic(NAMESPACE, NAME);
    await log.ensureTopic(topic, { partitions: 4, replicationFactor: 1 });
    await log.initGroup(triggerGroup(NAMESPACE, NAME), topic, 'latest');
    contracts.publish(warmUpContract(`http://127.0.0.1:${(sink.address() as AddressInfo).port}/`));
    // Metrics of its own (thrown away), so that the counting code warms up too.
    const metrics = createMetricsRegistry({ processMetrics: false });
    const dispatcher = await startDispatcher({ config: dispatcherConfigSchema.parse({}), log, contracts, logger: silentLogger(), metrics });
    closers.push(() => dispatcher.close());
    const ingress = await startIngress({ config: ingressConfigSchema.parse({ host: '127.0.0.1', port: 0 }), log, contracts, logger: silentLogger(), metrics });
    closers.push(() => ingress.close());

    const url = `${ingress.url}${brokerPath(NAMESPACE, NAME)}`;
    const data = Buffer.alloc(1024, 'x');
    const sendUntil = deadlines.sendUntil;
    let next = 0;
    const sender = async (): Promise<void> => {
      while (next < events && performance.now() < sendUntil && signal?.aborted !== true) {
        // Counted as sent once accepted: a refused event is never delivered.
        if (await post(url, agent, next++, data)) sent++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, events) }, sender));
    sending = false;
    if (delivered >= sent) allDelivered();
    await Promise.race([done, new Promise<void>((resolve) => {
      deadline = setTimeout(resolve, Math.max(0, Math.min(DRAIN_MS, deadlines.drainUntil - performance.now())));
    })]);
    return delivered;
  } finally {
    clearTimeout(deadline);
    agent.destroy();
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await log.close();
    sink.closeAllConnections();
    await new Promise<void>((resolve) => sink.close(() => resolve()));
  }
}

function warmUpContract(destination: string): Contract {
  const reference = (kind: string, name: string) => ({ kind, namespace: NAMESPACE, name, uid: `${NAMESPACE}-${kind}-${name}` });
  return {
    version: CONTRACT_VERSION,
    generation: 1,
    resources: [{
      uid: `${NAMESPACE}-broker`,
      kind: 'Broker',
      reference: reference('Broker', NAME),
      topics: [brokerTopic(NAMESPACE, NAME)],
      ingress: { path: brokerPath(NAMESPACE, NAME), contentMode: 'binary' },
      egressConfig: null,
      egresses: [{
        uid: `${NAMESPACE}-trigger`,
        reference: reference('Trigger', NAME),
        consumerGroup: triggerGroup(NAMESPACE, NAME),
        destination,
        reply: { kind: 'discard' },
        filter: null,
        deliveryOrder: 'unordered',
        contentMode: 'binary',
        egressConfig: null,
      }],
    }],
  };
}

/**
 * One event, in binary mode for three in four and structured for the rest (both codec paths).
 * Resolves with whether the ingress accepted it.
 */
function post(url: string, agent: http.Agent, i: number, data: Buffer): Promise<boolean> {
  const structured = i % 4 === 3;
  const id = `warm-up-${i}`;
  const body = structured
    ? Buffer.from(JSON.stringify({ specversion: '1.0', id, source: '/kafka-broker/warm-up', type: 'dev.kafka-broker.warm-up', datacontenttype: 'text/plain', data: data.toString('latin1') }))
    : data;
  const headers: http.OutgoingHttpHeaders = structured
    ? { 'content-type': 'application/cloudevents+json', 'content-length': body.length }
    : {
      'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/kafka-broker/warm-up', 'ce-type': 'dev.kafka-broker.warm-up',
      'content-type': 'application/octet-stream', 'content-length': body.length,
    };
  return new Promise<boolean>((resolve) => {
    const request = http.request(url, { method: 'POST', agent, headers }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode === 202));
      response.on('error', () => resolve(false));
    });
    // A refused event is only one event less of warm-up.
    request.on('error', () => resolve(false));
    request.end(body);
  });
}
