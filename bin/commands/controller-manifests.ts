/**
 * `kafka-broker controller --manifests <dir> [--ingress-url <url>] [--admin-port 9090] [--kafka <servers>]`
 *
 * The controller as its own process on a folder of manifests, serving the contract on its admin
 * port to `kafka-broker ingress` and `kafka-broker dispatcher` processes: the cluster layout
 * without a kube-apiserver (the fault suite, test/faults, runs it so).
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { controllerConfigFrom } from '../../controller/config.js';
import { startManifestsController, type RunningManifestsController } from '../../controller/manifests-main.js';
import { isBrokerError } from '../../core/errors.js';
import { createMetricsRegistry } from '../../core/metrics.js';
import { CliError, type CliIo } from '../cli.js';
import type { KafkaSecurity } from '../../core/event-log/kafka/security.js';
import { clusterLogs } from '../../controller/cluster-logs.js';
import { openKafka, untilSignal } from '../data-plane.js';
import { clustersOf, kafkaClientOf, rootCredentials } from '../kafka-auth.js';
import { loggerFrom, stringFlag, type FlagValues } from '../options.js';

export interface ManifestsOptions {
  readonly manifests: string;
  readonly ingressUrl: string | undefined;
  readonly host: string;
  readonly adminPort: number;
  readonly kafka: readonly string[];
  readonly kafkaFrom: string;
  readonly kafkaSecurity?: KafkaSecurity;
  readonly kafkaAuthRoot?: string;
  /** The command's flags, for the log format. */
  readonly values: FlagValues;
}

export async function runOnManifests(options: ManifestsOptions, io: CliIo): Promise<number> {
  const info = await stat(options.manifests).catch(() => undefined);
  if (info === undefined) throw new CliError(`manifests folder "${options.manifests}" does not exist`);
  if (!info.isDirectory()) throw new CliError(`--manifests must be a folder, and "${options.manifests}" is a file`);
  let config;
  try {
    config = controllerConfigFrom(
      { manifestsDir: path.resolve(options.manifests), ingressUrl: options.ingressUrl ?? 'http://127.0.0.1:8080', kafkaBootstrapServers: options.kafka },
      io.env,
    );
  } catch (error) {
    throw new CliError(isBrokerError(error) ? error.message : String(error));
  }
  const logger = loggerFrom(io, options.values);
  const metrics = createMetricsRegistry();
  const log = await openKafka(options.kafka, options.kafkaFrom, 'kafka-broker-controller', logger, options.kafkaSecurity, '', metrics, kafkaClientOf(io.env, stringFlag(options.values, 'kafka-client')));
  let running: RunningManifestsController;
  try {
    const clusters = await clustersOf(log, options.kafkaAuthRoot, 'kafka-broker-controller', logger);
    running = await startManifestsController({ config, log, clusterLogs: clusterLogs(clusters, rootCredentials(options.kafkaAuthRoot)), logger, host: options.host, port: options.adminPort, metrics });
  } catch (error) {
    await log.close();
    throw new CliError(`admin API: ${(error as Error).message}; choose another port with --admin-port`);
  }
  io.stderr.write(
    `kafka-broker controller: admin ${running.adminUrl} (contract at ${running.adminUrl}/contract), manifests ${config.manifestsDir}, ` +
      `Kafka ${options.kafka.join(',')}, brokers at ${config.ingressUrl}\n`,
  );
  await untilSignal(io, logger);
  await running.close();
  await log.close();
  logger.flush();
  setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
  return 0;
}
