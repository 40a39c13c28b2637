import type { FastifyInstance } from 'fastify';
import type { Contract } from '../core/contract/types.js';
import type { EgressLag, LagSource } from '../core/event-log/lag.js';

/**
 * `GET /lag` on the admin API: consumer lag per trigger (and subscription), which
 * `kafka-broker get triggers` shows as its LAG column (and `-o wide` as OLDEST).
 *
 *   200 { items: [{ namespace, name, kind, consumerGroup, records, oldestAgeSeconds, partitions }] }
 *
 * `kafka-broker start` answers from its dispatcher (records and the age of the oldest record not
 * delivered); the Kubernetes-mode controller from the consumer groups' committed offsets (records;
 * the age only where the log knows it).
 */
export function registerLagRoute(app: FastifyInstance, read: () => Promise<readonly EgressLag[]>): void {
  app.get('/lag', async () => ({ items: await read() }));
}

/** Every egress of a contract as a lag source (no pending records: the controller delivers nothing). */
export function contractLagSources(contract: Contract | undefined): LagSource[] {
  return (contract?.resources ?? []).flatMap((resource) =>
    resource.egresses.map((egress) => ({ reference: egress.reference, consumerGroup: egress.consumerGroup, topics: resource.topics })),
  );
}
