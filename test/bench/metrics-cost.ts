/**
 * The metrics work one event costs, alone: the same calls the ingress and the dispatcher make per
 * event with metrics on, on the real metric objects and a real registry, in a tight loop, as CPU
 * time per event. No sockets and no other process, so it hardly moves with the machine's load,
 * and divided by a whole round's CPU per event (ingress.bench.ts, dispatcher.bench.ts) it says
 * what share of the work metrics are. Warmed up first; the median of ROUNDS rounds.
 *
 *   ingress     three clock reads (arrival, append start and end) and `appended()` for one event
 *   dispatch    an attempt through `timedSender` (two clock reads, `record()`) and `done()`,
 *               less the same attempt through the bare sender (the frame timedSender adds counts)
 */
import type { CloudEvent } from '../../core/cloudevents/event.js';
import { createMetricsRegistry } from '../../core/metrics.js';
import { IngressMetrics } from '../../broker-ingress/metrics.js';
import { IngressTable } from '../../broker-ingress/ingress-table.js';
import type { AttemptResult, HttpRequest, Sender } from '../../dispatcher/delivery.js';
import { DispatcherMetrics, timedSender } from '../../dispatcher/metrics.js';
import { makeBroker, makeContract, makeEgress } from '../helpers/builders.js';

const ROUNDS = 7;
const EVENTS = 200_000;

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

/** µs of CPU per event of the ingress's metrics calls. */
export function ingressMetricsCost(): number {
  const broker = makeBroker('cost', [], {}, 'ns');
  const table = new IngressTable();
  table.apply(makeContract([broker]));
  const entry = table.lookup(broker.ingress!.path)!;
  const metrics = new IngressMetrics(createMetricsRegistry({ processMetrics: false }), 50);
  const request = { kafkaBrokerIngressStarted: 0 } as never;
  const types = ['dev.knative.bench', 'com.example.order.created', 'com.example.payment'];
  const events: CloudEvent[][] = types.map((type) => [{ attributes: { specversion: '1.0', id: '1', source: '/bench', type } } as CloudEvent]);
  const round = (n: number): number => {
    const started = cpuMicros();
    for (let i = 0; i < n; i++) {
      metrics.arrived(request);
      const t0 = performance.now();
      metrics.appended(entry, events[i % 3]!, performance.now() - t0, 202);
    }
    return (cpuMicros() - started) / n;
  };
  round(EVENTS);
  return median(Array.from({ length: ROUNDS }, () => round(EVENTS)));
}

/** µs of CPU per event of the dispatcher's metrics calls, the bare attempt's cost taken out. */
export async function dispatchMetricsCost(): Promise<number> {
  const egress = makeEgress('cost', { destination: 'http://127.0.0.1:1/' });
  const metrics = new DispatcherMetrics(createMetricsRegistry({ processMetrics: false })).forEgress(egress);
  const ok: AttemptResult = { kind: 'response', status: 200, headers: {}, body: undefined } as unknown as AttemptResult;
  const bare: Sender = { send: () => Promise.resolve(ok) };
  const timed = timedSender(bare, (url) => url === egress.destination, metrics.attempts);
  const message: HttpRequest = { url: egress.destination, headers: {}, body: undefined };
  const round = async (n: number, on: boolean): Promise<number> => {
    const sender = on ? timed : bare;
    const started = cpuMicros();
    for (let i = 0; i < n; i++) {
      await sender.send(message, 1000);
      if (on) metrics.done('delivered');
    }
    return (cpuMicros() - started) / n;
  };
  await round(EVENTS, false);
  await round(EVENTS, true);
  const differences: number[] = [];
  for (let i = 0; i < ROUNDS; i++) differences.push((await round(EVENTS, true)) - (await round(EVENTS, false)));
  return median(differences);
}

/** The line the benches print: the isolated cost, and its share of a round's CPU per event. */
export function costLine(micros: number, offCpuMicrosPerEvent: number): string {
  return `metrics work per event, measured alone: ${micros.toFixed(2)} µs = ${(100 * micros / offCpuMicrosPerEvent).toFixed(1)} % of the off rounds' CPU per event (goal ≤ 5 %)`;
}
