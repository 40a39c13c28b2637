/**
 * `kafka-broker controller [--kubeconfig <file>] [--kafka <servers>] [--admin-port 9090] [leader election flags]`
 *
 * The controller in Kubernetes mode: watches Knative Brokers and Triggers (and every other kind
 * of controller/api-kinds.ts whose CRD is installed) through the API server, creates their topics and
 * consumer groups on Kafka, writes their status, and serves the data-plane contract on its admin
 * port for `kafka-broker ingress` and `kafka-broker dispatcher`.
 *
 *   kube-apiserver ◀──watch, status, finalizers, Lease──▶ controller ──topics, groups──▶ Kafka
 *                                                          │ admin (:admin-port)
 *   ingress, dispatcher ◀── GET /contract?after=<g> ───────┘ /readyz: the leader, first pass done
 *
 * Credentials: --kubeconfig (or $KUBECONFIG), else the pod's service account (in-cluster).
 * Several replicas elect one leader through a Lease in --namespace; the others wait (not ready).
 * SIGTERM: stop reconciling, release the Lease (a standby takes over at once), close.
 */
import { KubeApi, loadKubeConfig, type KubeConfigSource } from '../../controller/kubernetes/api.js';
import { ingressUrlOf, kubernetesControllerConfigFrom } from '../../controller/kubernetes/config.js';
import { startKubernetesController, type RunningKubernetesController } from '../../controller/kubernetes/main.js';
import { bootstrapServersSchema, commonEnv } from '../../core/config.js';
import { isBrokerError } from '../../core/errors.js';
import { createMetricsRegistry } from '../../core/metrics.js';
import { exposureProblem } from '../../core/admin-auth/index.js';
import { CliError, type CliIo } from '../cli.js';
import { openKafka, untilSignal } from '../data-plane.js';
import { KAFKA_AUTH_FLAG, KAFKA_AUTH_USAGE, kafkaAuthRootOf, kafkaClientOf, kafkaSecurityOf } from '../kafka-auth.js';
import type { OpenClusterLog } from '../../core/event-log/clusters.js';
import { LOG_FORMAT_FLAG, loggerFrom, parseCommandLine, parsePort, stringFlag, type FlagValues } from '../options.js';
import { runOnManifests } from './controller-manifests.js';

const USAGE = `Usage: kafka-broker controller [options]

Runs the controller against a Kubernetes API server (Knative Brokers and Triggers as CRDs),
or with --manifests on a folder of manifests instead (no API server, no leader election).

Options:
      --manifests <dir>          read the objects from this folder (watched) instead of an API server
      --kubeconfig <file>        credentials (default $KUBECONFIG, else the pod's service account)
      --context <name>           kubeconfig context (default: its current context)
      --kafka <servers>          Kafka bootstrap servers host:port[,...]; default $KAFKA_BOOTSTRAP_SERVERS
${KAFKA_AUTH_USAGE}      --admin-port <port>        admin API: /contract for the data plane, /readyz, objects, /metrics, /lag
                                 (default 9090)
      --admin-host <host>        its address (default 127.0.0.1; in a pod, 0.0.0.0). Callers authenticate
                                 with a Kubernetes token (TokenReview) and RBAC says what they may do
                                 (SubjectAccessReview; see deploy/base/10-rbac.yaml)
      --admin-token-audience <a> accept only tokens meant for audience <a> (comma-separated list;
                                 default: the API server's own audiences)
      --namespace <ns>           the controller's namespace: Lease, config ConfigMaps (default $SYSTEM_NAMESPACE,
                                 else knative-eventing)
      --ingress-url <url>        brokers' address base (default http://kafka-broker-ingress.<ns>.svc.<domain>)
      --cluster-domain <domain>  for Services' URLs (default cluster.local)
      --no-leader-election       lead at once (a single replica)
      --lease-name <name>        (default kafka-broker-controller)
      --identity <id>            this replica's name in the Lease (default $POD_NAME, else <hostname>-<random>)
      --lease-duration-ms <ms>   (default 15000)
      --renew-deadline-ms <ms>   (default 10000)
      --retry-period-ms <ms>     (default 2000)
      --log-format <format>      json or pretty (default: pretty at a terminal, else json)
  -h, --help                     show this help

Environment: KUBECONFIG, KAFKA_BOOTSTRAP_SERVERS, SYSTEM_NAMESPACE, POD_NAME, LOG_LEVEL, LOG_FORMAT,
CONTROLLER_TOPIC_PARTITIONS (10), CONTROLLER_TOPIC_REPLICATION_FACTOR (1).
`;

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values }: { values: FlagValues } = parseCommandLine(argv, {
    manifests: { type: 'string' },
    kubeconfig: { type: 'string' },
    context: { type: 'string' },
    kafka: { type: 'string' },
    ...KAFKA_AUTH_FLAG,
    'admin-port': { type: 'string' },
    'admin-host': { type: 'string' },
    // the name before --admin-host, still accepted
    host: { type: 'string' },
    'admin-token-audience': { type: 'string' },
    namespace: { type: 'string' },
    'ingress-url': { type: 'string' },
    'cluster-domain': { type: 'string' },
    'no-leader-election': { type: 'boolean' },
    'lease-name': { type: 'string' },
    identity: { type: 'string' },
    'lease-duration-ms': { type: 'string' },
    'renew-deadline-ms': { type: 'string' },
    'retry-period-ms': { type: 'string' },
    ...LOG_FORMAT_FLAG,
  }, 'controller');
  if (values['help'] === true) {
    io.stdout.write(USAGE);
    return 0;
  }
  const str = (name: string): string | undefined => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  const adminPort = parsePort('--admin-port', values['admin-port'], 9090);
  const host = str('admin-host') ?? str('host') ?? '127.0.0.1';

  const kafkaText = str('kafka') ?? commonEnv(io.env).kafkaBootstrapServers;
  const kafkaFrom = str('kafka') !== undefined ? '--kafka' : 'KAFKA_BOOTSTRAP_SERVERS';
  if (kafkaText === undefined) throw new CliError('Kafka is required: give --kafka host:port or set KAFKA_BOOTSTRAP_SERVERS');
  const kafka = bootstrapServersSchema.safeParse(kafkaText);
  if (!kafka.success) throw new CliError(`${kafkaFrom} must be host:port[,host:port...], got "${kafkaText}"`);

  const manifests = str('manifests');
  if (manifests !== undefined) {
    // Manifests mode has no way to check callers: its admin API (and the contract) stays on loopback.
    const exposed = exposureProblem(host, false);
    if (exposed !== undefined) throw new CliError(`${exposed} (with --manifests the admin API has no authentication)`);
    const kafkaSecurity = await kafkaSecurityOf(io, stringFlag(values, 'kafka-auth-dir'));
    const kafkaAuthRoot = kafkaAuthRootOf(io, stringFlag(values, 'kafka-auth-root'));
    return runOnManifests({ manifests, ingressUrl: str('ingress-url'), host, adminPort, kafka: kafka.data, kafkaFrom, kafkaSecurity, ...(kafkaAuthRoot === undefined ? {} : { kafkaAuthRoot }), values }, io);
  }

  let config;
  try {
    config = kubernetesControllerConfigFrom({
      systemNamespace: str('namespace'),
      ingressUrl: str('ingress-url'),
      clusterDomain: str('cluster-domain'),
      leaderElection: values['no-leader-election'] === true ? false : undefined,
      leaseName: str('lease-name'),
      identity: str('identity'),
      leaseDurationMs: str('lease-duration-ms'),
      renewDeadlineMs: str('renew-deadline-ms'),
      retryPeriodMs: str('retry-period-ms'),
      kafkaBootstrapServers: kafka.data,
      ...(str('admin-token-audience') === undefined ? {} : { adminTokenAudiences: str('admin-token-audience')!.split(',').map((a) => a.trim()).filter((a) => a !== '') }),
    }, io.env);
  } catch (error) {
    throw new CliError(isBrokerError(error) ? error.message : String(error));
  }

  const kubeconfig = str('kubeconfig') ?? (io.env['KUBECONFIG'] || undefined);
  let from: KubeConfigSource;
  if (kubeconfig !== undefined) from = { kubeconfig, ...(str('context') === undefined ? {} : { context: str('context')! }) };
  else if (io.env['KUBERNETES_SERVICE_HOST']) from = { inCluster: true };
  else throw new CliError('no Kubernetes credentials: give --kubeconfig <file> or set KUBECONFIG (in a pod, the service account is used)');
  let api: KubeApi;
  try {
    api = new KubeApi(loadKubeConfig(from));
  } catch (error) {
    throw new CliError(`cannot load the Kubernetes credentials: ${(error as Error).message}`);
  }

  const logger = loggerFrom(io, values);
  const kafkaSecurity = await kafkaSecurityOf(io, stringFlag(values, 'kafka-auth-dir'));
  const metrics = createMetricsRegistry();
  const kafkaClient = kafkaClientOf(io.env, stringFlag(values, 'kafka-client'));
  const log = await openKafka(kafka.data, kafkaFrom, 'kafka-broker-controller', logger, kafkaSecurity, '', metrics, kafkaClient);
  let running: RunningKubernetesController;
  try {
    // Brokers on clusters of their own: credentials from the Secrets they name, read through the API.
    const { KafkaEventLog } = await import('../../core/event-log/kafka/adapter.js');
    const openCluster: OpenClusterLog = (ref, security) => new KafkaEventLog({ brokers: [...ref.bootstrapServers], clientId: 'kafka-broker-controller', logger, security, client: kafkaClient });
    running = await startKubernetesController({ api, log, openCluster, config, logger, host, port: adminPort, metrics });
  } catch (error) {
    await log.close();
    await api.close();
    throw new CliError(`admin API: ${(error as Error).message}; choose another port with --admin-port`);
  }
  const { controller, adminUrl } = running;
  io.stderr.write(
    `kafka-broker controller: admin ${adminUrl} (contract at ${adminUrl}/contract), API server ${api.server}, ` +
      `Kafka ${kafka.data.join(',')}, brokers at ${ingressUrlOf(config)}, ` +
      `${config.leaderElection ? `leader election on ${config.systemNamespace}/${config.leaseName} as ${controller.identity}` : 'no leader election'}\n`,
  );

  await untilSignal(io, logger);
  // The Lease is released first thing (a standby takes over), then the admin API and Kafka close.
  await running.close();
  await log.close();
  await api.close();
  logger.flush();
  setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
  return 0;
}
