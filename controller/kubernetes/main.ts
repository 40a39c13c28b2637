import type { FastifyInstance } from 'fastify';
import type { OpenClusterLog } from '../../core/event-log/clusters.js';
import type { EventLog } from '../../core/event-log/port.js';
import { listen } from '../../core/http-server.js';
import type { Logger } from '../../core/logger.js';
import type { Registry } from '../../core/metrics.js';
import { createAdminServer } from '../admin.js';
import { registerFeedRoutes } from '../feed-routes.js';
import { ControllerMetrics } from '../metrics.js';
import { exposureProblem, type AdminAuth } from '../../core/admin-auth/index.js';
import { BrokerError } from '../../core/errors.js';
import { KubernetesAdminAuth } from './admin-auth.js';
import type { KubeApi } from './api.js';
import { adminHostNamesOf, type KubernetesControllerConfig } from './config.js';
import { KubernetesController, type KubernetesControllerOptions } from './controller.js';
import { OidcTokenIssuer, registerOidcTokenRoute } from './oidc-tokens.js';

/**
 * Wires the controller in Kubernetes mode: the leader-elected controller and the admin server
 * that serves its objects and, to the data plane in other processes, its contract.
 *
 *   kube-apiserver ◀──watch, status, finalizers, Lease──▶ KubernetesController ──topics, groups──▶ event log
 *                                                          │ ContractFeed
 *   ingress, dispatcher ◀── GET /contract?after=<g> ── admin server (/readyz: the leader, first pass done)
 *   dispatcher          ◀── GET /oidc-tokens ───────── (TokenRequest for a trigger's identity: oidc-tokens.ts)
 *
 * The one start function of both `kafka-broker controller` and the Kubernetes-mode tests, so
 * that what the tests run is what the CLI runs. The caller owns `api` and `log` and closes them
 * after `close`.
 */
export interface KubernetesControllerDeps {
  readonly api: KubeApi;
  readonly log: EventLog;
  /**
   * Opens a log for a cluster a resource names; with it, the credentials come from the Secret
   * the resource names (read through `api`). None: such resources' topics fail.
   */
  readonly openCluster?: OpenClusterLog;
  readonly config: KubernetesControllerConfig;
  readonly logger: Logger;
  /** The admin server's address; port 0 picks a free one. */
  readonly host: string;
  readonly port: number;
  /** Overrides of the source's tuning (tests shorten retries). */
  readonly source?: KubernetesControllerOptions['source'];
  /** Registers more routes on the admin server before it listens. */
  readonly registerRoutes?: (admin: FastifyInstance) => void;
  /** The process's metrics registry, served at `GET /metrics` on the admin port; absent: no metrics. */
  readonly metrics?: Registry | undefined;
  /**
   * Who may use the admin API; by default callers' tokens are checked by the API server
   * (TokenReview, SubjectAccessReview: see admin-auth.ts). `false` turns it off (loopback only).
   */
  readonly adminAuth?: AdminAuth | false;
}

export interface RunningKubernetesController {
  readonly controller: KubernetesController;
  readonly admin: FastifyInstance;
  /** Issues the tokens dispatchers present to destinations with an OIDC audience (`GET /oidc-tokens`). */
  readonly tokens: OidcTokenIssuer;
  /** The admin server's base URL; the contract is at `${adminUrl}/contract`. */
  readonly adminUrl: string;
  /** Stops leading (releasing the Lease, so a standby takes over at once), then closes the admin server. */
  close(): Promise<void>;
}

/**
 * Binds the admin server, then starts campaigning. A port that cannot be bound rejects (with the
 * error of core/http-server.ts `listen`) before anything started.
 */
export async function startKubernetesController(deps: KubernetesControllerDeps): Promise<RunningKubernetesController> {
  const metrics = deps.metrics === undefined ? undefined : new ControllerMetrics(deps.metrics);
  const controller = new KubernetesController({
    api: deps.api,
    log: deps.log,
    ...(deps.openCluster === undefined ? {} : { openCluster: deps.openCluster }),
    config: deps.config,
    logger: deps.logger,
    source: deps.source,
    metrics,
  });
  const auth = deps.adminAuth === false ? undefined : deps.adminAuth ?? new KubernetesAdminAuth(deps.api, { audiences: deps.config.adminTokenAudiences });
  const problem = exposureProblem(deps.host, auth !== undefined);
  if (problem !== undefined) throw new BrokerError('CONFIG_INVALID', problem);
  const admin = createAdminServer({
    logger: deps.logger,
    notReadyReason: async () => controller.notReadyReason(),
    access: { auth, hostNames: adminHostNamesOf(deps.config) },
  });
  registerFeedRoutes(admin, {
    log: deps.log,
    feed: controller.feed,
    objects: () => controller.reconciler()?.objects() ?? [],
    problems: () => controller.reconciler()?.problems() ?? [],
    metrics: deps.metrics,
    dataPlaneReports: controller.dataPlaneReports,
  });
  const tokens = new OidcTokenIssuer({ api: deps.api, contract: () => controller.feed.current(), logger: deps.logger });
  registerOidcTokenRoute(admin, tokens);
  metrics?.watchResources(() => controller.reconciler()?.objects() ?? []);
  deps.registerRoutes?.(admin);
  let adminUrl: string;
  try {
    adminUrl = (await listen(admin, deps.host, deps.port)).url;
  } catch (error) {
    await admin.close();
    throw error;
  }
  controller.start();
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await controller.close();
      await admin.close();
    })();
    return closing;
  };
  return { controller, admin, adminUrl, tokens, close };
}
