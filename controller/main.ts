import type { Contract } from '../core/contract/types.js';
import type { EgressFault } from '../core/egress-faults.js';
import type { EventLog } from '../core/event-log/port.js';
import type { Logger } from '../core/logger.js';
import type { Registry } from '../core/metrics.js';
import { reconcileSettings, type ControllerConfig } from './config.js';
import { ContractWriter } from './contract-writer.js';
import { ControllerMetrics } from './metrics.js';
import { Reconciler, type ClusterLogs } from './reconciler.js';
import { ManifestSource } from './sources/manifests.js';
import type { ResourceSource } from './sources/source.js';
import type { DataPlaneReports } from './data-plane-reports.js';
import type { DataPlaneObservation } from './state.js';

/**
 * Wires the controller: a source of objects (the manifests folder unless one is given), the
 * reconciler, and the contract writer publishing into `publish` (an in-process contract source,
 * or a contract file for a data plane in other processes).
 *
 * Created first and started later, so that the caller can register the admin routes (which read
 * the reconciler) before any port is bound.
 */
export interface ControllerDeps {
  readonly config: ControllerConfig;
  readonly log: EventLog;
  /** The logs of clusters resources name (controller/cluster-logs.ts); none: such resources' topics fail. */
  readonly clusterLogs?: ClusterLogs;
  readonly publish: (contract: Contract) => void | Promise<void>;
  readonly logger: Logger;
  readonly source?: ResourceSource;
  readonly dataPlane?: () => DataPlaneObservation;
  /** What data-plane processes in other processes report applying (their polls of /contract). */
  readonly dataPlaneReports?: DataPlaneReports;
  /** The dispatcher's faults per consumer group, when it runs in this process. */
  readonly egressFaults?: () => ReadonlyMap<string, EgressFault>;
  /** The generation already published before a restart (contract file), if any. */
  readonly initialGeneration?: number;
  /** The process's metrics registry; absent: no metrics. */
  readonly metrics?: Registry | undefined;
}

export interface Controller {
  readonly reconciler: Reconciler;
  /** Loads the objects and completes the first pass: the first contract is published when this resolves. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export function createController(deps: ControllerDeps): Controller {
  const { config, logger } = deps;
  const source = deps.source ?? new ManifestSource({ dir: config.manifestsDir, logger, debounceMs: config.debounceMs, pollMs: config.pollMs });
  const metrics = deps.metrics === undefined ? undefined : new ControllerMetrics(deps.metrics);
  const reconciler = new Reconciler({
    metrics,
    source,
    log: deps.log,
    ...(deps.clusterLogs === undefined ? {} : { clusterLogs: deps.clusterLogs }),
    contracts: new ContractWriter(deps.publish, deps.initialGeneration ?? 0),
    settings: reconcileSettings(config),
    logger,
    ...(deps.dataPlane === undefined ? {} : { dataPlane: deps.dataPlane }),
    ...(deps.egressFaults === undefined ? {} : { egressFaults: deps.egressFaults }),
    ...(deps.dataPlaneReports === undefined ? {} : { dataPlaneReports: deps.dataPlaneReports }),
    retryMinMs: config.retryMinMs,
    retryMaxMs: config.retryMaxMs,
    deleteGraceMs: config.deleteGraceMs,
  });
  metrics?.watchResources(() => reconciler.objects());
  return {
    reconciler,
    start: () => reconciler.start(),
    close: () => reconciler.close(),
  };
}
