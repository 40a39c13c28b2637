import type { FastifyInstance } from 'fastify';
import type { EventLog } from '../core/event-log/port.js';
import type { ClusterLogs } from './reconciler.js';
import { listen } from '../core/http-server.js';
import type { Logger } from '../core/logger.js';
import type { Registry } from '../core/metrics.js';
import { createAdminServer } from './admin.js';
import { registerFeedRoutes } from './feed-routes.js';
import { DataPlaneReports } from './data-plane-reports.js';
import type { ControllerConfig } from './config.js';
import { ContractFeed } from './contract-feed.js';
import { createController, type Controller } from './main.js';

/**
 * The controller on a manifests folder, serving its contract to a data plane in other processes
 * (`kafka-broker controller --manifests <dir>`): a cluster's process layout without a
 * kube-apiserver, as the fault suite (test/faults) runs it.
 *
 *   manifests/ ──▶ controller ──topics, groups──▶ Kafka
 *                    │ ContractFeed
 *   ingress, dispatcher ◀── GET /contract?after=<g> ── admin server (/readyz: first pass done)
 *
 * A restarted controller starts its generations again from 1; the data plane's
 * HttpContractSource follows a count that went back (core/contract/http-source.ts).
 */
export interface ManifestsControllerDeps {
  readonly config: ControllerConfig;
  readonly log: EventLog;
  /** The logs of clusters Brokers name in their ConfigMaps (credentials from --kafka-auth-root). */
  readonly clusterLogs?: ClusterLogs;
  readonly logger: Logger;
  /** The admin server's address; port 0 picks a free one. */
  readonly host: string;
  readonly port: number;
  /** The process's metrics registry, served at `GET /metrics` on the admin port; absent: no metrics. */
  readonly metrics?: Registry | undefined;
}

export interface RunningManifestsController {
  readonly controller: Controller;
  readonly admin: FastifyInstance;
  /** The admin server's base URL; the contract is at `${adminUrl}/contract`. */
  readonly adminUrl: string;
  close(): Promise<void>;
}

/** Binds the admin server (a taken port rejects before anything started), then runs the first pass. */
export async function startManifestsController(deps: ManifestsControllerDeps): Promise<RunningManifestsController> {
  const feed = new ContractFeed();
  let firstPass = false;
  const dataPlaneReports = new DataPlaneReports();
  const controller = createController({
    config: deps.config, log: deps.log, logger: deps.logger, metrics: deps.metrics, ...(deps.clusterLogs === undefined ? {} : { clusterLogs: deps.clusterLogs }), publish: (contract) => feed.publish(contract), dataPlaneReports,
    egressFaults: () => dataPlaneReports.egressFaults(),
  });
  const admin = createAdminServer({ logger: deps.logger, notReadyReason: async () => (firstPass ? undefined : 'the manifests are not loaded yet') });
  registerFeedRoutes(admin, {
    log: deps.log,
    feed,
    objects: () => controller.reconciler.objects(),
    problems: () => controller.reconciler.problems(),
    metrics: deps.metrics,
    dataPlaneReports,
  });
  let adminUrl: string;
  try {
    adminUrl = (await listen(admin, deps.host, deps.port)).url;
  } catch (error) {
    await admin.close();
    throw error;
  }
  try {
    await controller.start();
  } catch (error) {
    await controller.close().catch(() => undefined);
    await admin.close();
    throw error;
  }
  firstPass = true;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await controller.close();
      dataPlaneReports.close();
      await admin.close();
    })();
    return closing;
  };
  return { controller, admin, adminUrl, close };
}
