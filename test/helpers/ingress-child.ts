/**
 * One ingress on the in-memory log in a process of its own, for tests that watch it from outside:
 * its memory (VmRSS), and whether it stays up. Serves a broker (binary mode, hop-limited) and a
 * KafkaSink (structured mode).
 *
 *   node --import tsx test/helpers/ingress-child.ts '<config overrides as JSON>'
 *
 * Prints one JSON line on stdout once listening: { url, brokerPath, sinkPath }. Logs warnings and
 * errors (pino JSON) on stderr. Exits on SIGTERM after closing.
 */
import { InProcessContractSource } from '../../core/contract/source.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';
import { createLogger } from '../../core/logger.js';
import { ingressConfigSchema } from '../../broker-ingress/config.js';
import { startIngress } from '../../broker-ingress/main.js';
import { makeBroker, makeContract } from './builders.js';

const overrides = JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>;
const logger = createLogger({ level: 'warn' });
const log = new MemoryEventLog();
const broker = makeBroker('default', [], {}, 'fuzz');
const sink = makeBroker('dls', [], { kind: 'KafkaSink', uid: 'sink-fuzz-dls', topics: ['knative-sink-fuzz-dls'], ingress: { path: '/sinks/fuzz/dls', contentMode: 'structured' } }, 'fuzz');
for (const resource of [broker, sink]) await log.ensureTopic(resource.topics[0]!, { partitions: 3, replicationFactor: 1 });
const contracts = new InProcessContractSource();
contracts.publish(makeContract([broker, sink], 1));
const ingress = await startIngress({ config: ingressConfigSchema.parse({ host: '127.0.0.1', port: 0, ...overrides }), log, contracts, logger });
process.stdout.write(`${JSON.stringify({ url: ingress.url, brokerPath: broker.ingress!.path, sinkPath: sink.ingress!.path })}\n`);
process.once('SIGTERM', () => {
  void ingress.close().then(() => log.close()).then(() => process.exit(0));
});
