import type { FastifyInstance } from 'fastify';
import { LagReader } from '../core/event-log/lag.js';
import type { EventLog } from '../core/event-log/port.js';
import { registerMetricsRoute, type Registry } from '../core/metrics.js';
import { registerResourceRoutes } from './admin.js';
import type { ContractFeed } from './contract-feed.js';
import type { DataPlaneReports } from './data-plane-reports.js';
import { contractLagSources, registerLagRoute } from './lag-route.js';
import type { ObjectView } from './reconciler.js';
import type { SourceProblem } from './sources/source.js';

/**
 * The admin routes of a controller whose data plane runs in other processes (Kubernetes mode,
 * and `kafka-broker controller --manifests`): the objects, the contract feed the ingress and
 * dispatcher long-poll, lag read from the consumer groups' committed offsets (the dispatchers are
 * elsewhere), and the process's metrics.
 */
export interface FeedRoutes {
  readonly log: EventLog;
  readonly feed: ContractFeed;
  objects(): readonly ObjectView[];
  problems(): readonly SourceProblem[];
  readonly metrics?: Registry | undefined;
  /** Where the data-plane processes' reports (the generation they run, their faults) are kept. */
  readonly dataPlaneReports?: DataPlaneReports | undefined;
}

export function registerFeedRoutes(admin: FastifyInstance, routes: FeedRoutes): void {
  registerResourceRoutes(admin, {
    objects: routes.objects,
    problems: routes.problems,
    contract: () => routes.feed.current(),
    contractChanges: (listener) => routes.feed.changes(listener),
    ...(routes.dataPlaneReports === undefined ? {} : { dataPlaneReports: routes.dataPlaneReports }),
  });
  const lag = new LagReader(routes.log, () => contractLagSources(routes.feed.current()));
  registerLagRoute(admin, () => lag.read());
  if (routes.metrics !== undefined) registerMetricsRoute(admin, routes.metrics);
}
