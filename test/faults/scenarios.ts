import { setTimeout as sleep } from 'node:timers/promises';
import type { ReportRow } from './tally.js';
import { inWorld, type Infra, type World } from './world.js';

/**
 * The fault scenarios. Each runs a fixed number of events through its own broker (topic, groups,
 * processes), injects its fault while they flow, waits for delivery (bounded), and returns its
 * row of the report. Every loop is bounded in count and time.
 */
export interface Size {
  readonly events: number;
  readonly perSecond: number;
  /** How many times a process is killed (scenarios 1, 2, 8). */
  readonly kills: number;
  /** Pause between kills. */
  readonly killEveryMs: number;
  /** How long a fault lasts (the stalled subscriber, the stalled link, the dead-letter sink down). */
  readonly faultMs: number;
  /** How long delivery may take after the producers are done. */
  readonly drainMs: number;
}

export interface Scenario {
  /** Short name, as in `npm run faults -- <key>`. */
  readonly key: string;
  readonly title: string;
  /** What the infrastructure must offer. */
  readonly needs?: 'kafka-control' | 'proxy';
  run(infra: Infra, size: Size): Promise<ReportRow>;
}

/** Runs `fault` while producing; the fault loop gets the time producing is expected to take. */
async function whileProducing(world: World, size: Size, fault: () => Promise<void>): Promise<void> {
  const producing = world.produce({ count: size.events, perSecond: size.perSecond });
  const faulting = fault();
  // A fault that throws must not leave the producers behind unobserved.
  const [p, f] = await Promise.allSettled([producing, faulting]);
  if (f.status === 'rejected') throw f.reason;
  if (p.status === 'rejected') throw p.reason;
}

export const SCENARIOS: readonly Scenario[] = [
  {
    key: 'dispatcher-kill',
    title: '1. SIGKILL of a dispatcher, repeated, while events flow',
    run: (infra, size) =>
      inWorld(infra, 'dispatcher-kill', { triggers: [{ name: 't1' }, { name: 't2' }] }, async (world) => {
        await whileProducing(world, size, async () => {
          for (let k = 0; k < size.kills; k++) {
            await sleep(size.killEveryMs);
            const name = `dispatcher-${(k % 2) + 1}`;
            await world.cluster.kill(name);
            // Restarted at once, as a Deployment would.
            await world.cluster.startSlot(name);
          }
        });
        await world.drain(size.drainMs);
        return world.report();
      }),
  },
  {
    key: 'ingress-kill',
    title: '2. SIGKILL of an ingress while producers send',
    run: (infra, size) =>
      inWorld(infra, 'ingress-kill', { triggers: [{ name: 't1' }] }, async (world) => {
        await whileProducing(world, size, async () => {
          for (let k = 0; k < size.kills; k++) {
            await sleep(size.killEveryMs);
            const name = `ingress-${(k % 2) + 1}`;
            await world.cluster.kill(name);
            await sleep(1000);
            await world.cluster.startSlot(name);
          }
        });
        await world.drain(size.drainMs);
        return world.report();
      }),
  },
  {
    key: 'kafka-restart',
    title: '3. Kafka stopped and restarted (same data) under load',
    needs: 'kafka-control',
    run: (infra, size) =>
      inWorld(infra, 'kafka-restart', { triggers: [{ name: 't1' }, { name: 't2' }] }, async (world) => {
        await whileProducing(world, size, async () => {
          await sleep((size.events / size.perSecond) * 1000 * 0.3);
          infra.log('kafka-restart: stopping Kafka');
          await infra.kafkaControl!.stop();
          await sleep(Math.min(size.faultMs, 10_000));
          await infra.kafkaControl!.start();
          infra.log('kafka-restart: Kafka is back');
        });
        await world.drain(size.drainMs);
        return world.report();
      }),
  },
  {
    key: 'link-stall',
    title: '4. The link to Kafka stalled longer than the session timeout, then restored',
    needs: 'proxy',
    run: (infra, size) =>
      inWorld(infra, 'link-stall', { triggers: [{ name: 't1' }, { name: 't2' }] }, async (world) => {
        const { toxiproxy, name } = infra.proxy!;
        await whileProducing(world, size, async () => {
          await sleep((size.events / size.perSecond) * 1000 * 0.3);
          // timeout 0: no byte passes either way, and no connection is closed, until removed.
          await toxiproxy.addToxic(name, { name: 'stall-down', type: 'timeout', stream: 'downstream', attributes: { timeout: 0 } });
          await toxiproxy.addToxic(name, { name: 'stall-up', type: 'timeout', stream: 'upstream', attributes: { timeout: 0 } });
          infra.log(`link-stall: link stalled for ${size.faultMs / 1000} s`);
          try {
            await sleep(size.faultMs);
          } finally {
            await toxiproxy.reset();
          }
          infra.log('link-stall: link restored');
        });
        await world.drain(size.drainMs);
        return world.report();
      }),
  },
  {
    key: 'subscriber-faults',
    title: '5. Subscribers: 5xx bursts, timeouts, resets, one stalled while others are healthy',
    run: (infra, size) =>
      inWorld(
        infra,
        'subscriber-faults',
        { triggers: [{ name: 'flaky' }, { name: 'stalled' }, { name: 'healthy1' }, { name: 'healthy2' }] },
        async (world) => {
          const t0 = Date.now();
          const span = (size.events / size.perSecond) * 1000;
          // flaky: healthy, then a burst of 503s, then resets, then timeouts (hangs past the 2 s timeout), healthy again.
          world.subscriber('flaky').behave((now) => {
            const at = (now - t0) / span;
            if (at > 0.1 && at < 0.3) return { kind: 'status', status: 503 };
            if (at > 0.4 && at < 0.5) return { kind: 'reset' };
            if (at > 0.6 && at < 0.7) return { kind: 'hang', ms: 3000 };
            return { kind: 'ok' };
          });
          // stalled: every request in the window is held until the window ends.
          const stallFrom = t0 + span * 0.2;
          const stallUntil = stallFrom + size.faultMs;
          world.subscriber('stalled').behave((now) => (now >= stallFrom && now < stallUntil ? { kind: 'stall', until: stallUntil } : { kind: 'ok' }));
          await world.produce({ count: size.events, perSecond: size.perSecond });
          await world.drain(Math.max(size.drainMs, stallUntil - Date.now() + size.drainMs));
          // The healthy triggers must have kept flowing: their gaps are the figure that matters.
          return world.report(['healthy1', 'healthy2']);
        },
      ),
  },
  {
    key: 'dls-down',
    title: '6. The dead-letter sink down for a while (events held, then dead-lettered)',
    run: (infra, size) =>
      inWorld(
        infra,
        'dls-down',
        { triggers: [{ name: 'failing', checked: false, retry: 2, deadLetterSink: 'dls' }, { name: 'ok' }], extraSubscribers: ['dls'], checkedSinks: ['dls'] },
        async (world) => {
          world.subscriber('failing').behave(() => ({ kind: 'status', status: 500 }));
          const dls = world.subscriber('dls');
          await dls.down();
          infra.log(`dls-down: dead-letter sink down for ${size.faultMs / 1000} s`);
          const back = (async () => {
            await sleep(size.faultMs);
            await dls.up();
            infra.log('dls-down: dead-letter sink back');
          })();
          await world.produce({ count: size.events, perSecond: size.perSecond });
          await back;
          await world.drain(size.drainMs);
          return world.report(['ok']);
        },
      ),
  },
  {
    key: 'scale',
    title: '7. Dispatchers scaled down and up during traffic (partition hand-over)',
    run: (infra, size) =>
      inWorld(infra, 'scale', { triggers: [{ name: 't1' }, { name: 't2' }], dispatchers: 3 }, async (world) => {
        await world.cluster.terminate('dispatcher-3');
        const step = (size.events / size.perSecond) * 1000 * 0.2;
        await whileProducing(world, size, async () => {
          await sleep(step);
          await world.cluster.startSlot('dispatcher-3'); // 2 → 3
          await sleep(step);
          await world.cluster.terminate('dispatcher-1'); // 3 → 2
          await sleep(step);
          await world.cluster.terminate('dispatcher-2'); // 2 → 1
          await sleep(step);
          await Promise.all([world.cluster.startSlot('dispatcher-1'), world.cluster.startSlot('dispatcher-2')]); // 1 → 3
        });
        await world.drain(size.drainMs);
        return world.report();
      }),
  },
  {
    key: 'controller-restart',
    title: '8. The controller killed and restarted while triggers are added and removed',
    run: (infra, size) =>
      inWorld(infra, 'controller-restart', { triggers: [{ name: 't1' }, { name: 't2' }], extraSubscribers: ['churn'] }, async (world) => {
        const churn = async (round: number): Promise<void> => {
          // The churned triggers all deliver to the "churn" subscriber; only t1 and t2 are checked.
          const name = `churn${round}`;
          world.subscribers.set(name, world.subscriber('churn'));
          await world.writeTrigger({ name, checked: false });
          if (round > 0) await world.removeTrigger(`churn${round - 1}`);
        };
        await whileProducing(world, size, async () => {
          for (let k = 0; k < size.kills; k++) {
            await churn(2 * k);
            await sleep(size.killEveryMs / 2);
            await world.cluster.kill('controller');
            await churn(2 * k + 1);
            await sleep(1000);
            await world.cluster.startSlot('controller');
            await sleep(size.killEveryMs / 2);
          }
        });
        await world.drain(size.drainMs);
        return world.report();
      }),
  },
];

/** The `npm run faults` sizes: thousands of events, faults as the issue describes them. */
export const FULL: Size = { events: 3000, perSecond: 100, kills: 10, killEveryMs: 3000, faultMs: 60_000, drainMs: 150_000 };

/** The `npm test` sizes: a few hundred events, short faults. */
export const SHORT: Size = { events: 300, perSecond: 50, kills: 3, killEveryMs: 2500, faultMs: 10_000, drainMs: 90_000 };
