import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import type { Acked } from './tally.js';

/**
 * Producers for the fault suite: `count` events with unique ids, sent at a steady rate across the
 * ingress URLs in turn. An event is acknowledged when an ingress answers 202; a 5xx, a timeout or
 * a connection error is retried (on the next ingress, after a short pause) as a real producer
 * would, and such an event is marked `retried`: a copy it causes is the producer's, not the broker's.
 */
export interface ProduceOptions {
  /** Ingress base URLs, e.g. http://127.0.0.1:8080. */
  readonly ingresses: readonly string[];
  /** `/<namespace>/<broker>`. */
  readonly path: string;
  readonly count: number;
  readonly perSecond: number;
  /** Ids are `<prefix>-<n>`. */
  readonly idPrefix: string;
  /** How long one event may be retried before the producer gives up on it (never acknowledged). */
  readonly giveUpMs?: number;
  /** Sends in flight at most (the rate drops when the broker is slower). */
  readonly maxInFlight?: number;
  /** Called after each event is settled (acknowledged or given up), with how many are settled. */
  readonly onSettled?: (settled: number) => void;
}

export interface Produced {
  readonly acked: Acked[];
  /** Ids never acknowledged (the producer gave up): the broker promised nothing for them. */
  readonly givenUp: string[];
  /** Ids answered another 4xx (a bug in the suite, or in the ingress): never retried. */
  readonly rejected: string[];
  readonly attempts: number;
  /**
   * 404 answers: the broker exists all along, so each is a broker fault (an ingress serving a
   * contract without it); retried like a 5xx.
   */
  readonly notFound: number;
}

const ATTEMPT_TIMEOUT_MS = 10_000;
const RETRY_PAUSE_MS = 200;

export async function produce(options: ProduceOptions): Promise<Produced> {
  const agent = new Agent({ connections: 64, keepAliveTimeout: 4000 });
  const giveUpMs = options.giveUpMs ?? 120_000;
  const maxInFlight = options.maxInFlight ?? 64;
  const acked: Acked[] = [];
  const givenUp: string[] = [];
  const rejected: string[] = [];
  let attempts = 0;
  let notFound = 0;
  let settled = 0;
  let next = 0;
  let inFlight = 0;
  const interval = 1000 / options.perSecond;
  const started = Date.now();
  const all: Promise<void>[] = [];

  const sendOne = async (n: number): Promise<void> => {
    const id = `${options.idPrefix}-${n}`;
    const firstAttemptAt = Date.now();
    let retried = false;
    for (let attempt = 0; ; attempt++) {
      const base = options.ingresses[(n + attempt) % options.ingresses.length]!;
      attempts++;
      try {
        const response = await request(`${base}${options.path}`, {
          method: 'POST',
          dispatcher: agent,
          headers: {
            'ce-specversion': '1.0',
            'ce-id': id,
            'ce-source': '/faults',
            'ce-type': 'dev.faults.event',
            'content-type': 'application/json',
          },
          body: JSON.stringify({ n }),
          headersTimeout: ATTEMPT_TIMEOUT_MS,
          bodyTimeout: ATTEMPT_TIMEOUT_MS,
        });
        await response.body.dump();
        if (response.statusCode === 202) {
          acked.push({ id, firstAttemptAt, retried });
          return;
        }
        if (response.statusCode === 404) notFound++;
        else if (response.statusCode < 500) {
          // Another 4xx will not get better.
          rejected.push(id);
          return;
        }
      } catch {
        // A connection error or a timeout: retried below.
      }
      // The event may or may not be stored: sending it again can make a copy, which is ours.
      retried = true;
      if (Date.now() - firstAttemptAt > giveUpMs) {
        givenUp.push(id);
        return;
      }
      await sleep(RETRY_PAUSE_MS);
    }
  };

  try {
    while (next < options.count) {
      const due = started + next * interval;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      while (inFlight >= maxInFlight) await sleep(5);
      const n = next++;
      inFlight++;
      all.push(
        sendOne(n).finally(() => {
          inFlight--;
          options.onSettled?.(++settled);
        }),
      );
    }
    await Promise.all(all);
  } finally {
    await agent.close();
  }
  return { acked, givenUp, rejected, attempts, notFound };
}
