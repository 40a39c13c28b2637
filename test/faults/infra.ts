import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startKafka, type RunningKafka } from '../../scripts/kafka/kafka.js';
import { ensureToxiproxy, startToxiproxy, type Toxiproxy } from '../../scripts/toxiproxy/toxiproxy.js';
import { onFreePorts } from '../helpers/ports.js';
import type { Infra } from './world.js';

/**
 * The suite's own Kafka, restartable on the same data folder and ports, optionally behind
 * Toxiproxy: Kafka advertises the proxy's address, so every connection of the broker's processes
 * (bootstrap and the addresses in metadata responses) goes through the proxy.
 *
 *   broker processes ──▶ toxiproxy 127.0.0.1:<proxy> ──▶ Kafka 127.0.0.1:<broker> (advertises <proxy>)
 */
export interface OwnInfra extends Infra {
  close(): Promise<void>;
}

export async function startOwnInfra(options: { proxy: boolean; log: (line: string) => void; heapMb?: number }): Promise<OwnInfra> {
  const { log } = options;
  const workDir = await mkdtemp(path.join(tmpdir(), 'kafka-broker-faults-'));
  let toxiproxy: Toxiproxy | undefined;
  let kafka: RunningKafka | undefined;
  const close = async (): Promise<void> => {
    await kafka?.stop().catch(() => undefined);
    await toxiproxy?.stop().catch(() => undefined);
    await rm(workDir, { recursive: true, force: true });
  };
  try {
    let advertisedAddress: string | undefined;
    if (options.proxy) {
      const binary = await ensureToxiproxy(process.env, (line) => log(`toxiproxy: ${line}`));
      toxiproxy = await startToxiproxy(binary);
    }
    // Kafka's ports are fixed (it is restarted on them); the first start is made again on other
    // ports if one was taken before the JVM listened (without the proxy, whose upstream is fixed).
    const { kafkaOptions, bootstrap } = await onFreePorts(2, async ([broker, controller]) => {
      const ports = { broker: broker!, controller: controller! };
      if (toxiproxy !== undefined) {
        const listen = await toxiproxy.createProxy('kafka', 0, `127.0.0.1:${ports.broker}`);
        advertisedAddress = `127.0.0.1:${listen}`;
        log(`toxiproxy: 127.0.0.1:${listen} → Kafka 127.0.0.1:${ports.broker} (API ${toxiproxy.apiUrl})`);
      }
      const attempt = {
        ports,
        dataDir: path.join(workDir, `kafka-data-${ports.broker}`),
        heapMb: options.heapMb ?? 512,
        onProgress: (line: string) => log(`kafka: ${line}`),
        ...(advertisedAddress === undefined ? {} : { advertisedAddress }),
      };
      kafka = await startKafka(attempt);
      return { kafkaOptions: attempt, bootstrap: kafka.bootstrapServers };
    }, options.proxy ? 1 : 4);
    return {
      kafka: bootstrap,
      kafkaControl: {
        stop: async () => {
          await kafka?.stop();
          kafka = undefined;
        },
        start: async () => {
          kafka = await startKafka(kafkaOptions);
        },
      },
      ...(toxiproxy === undefined ? {} : { proxy: { toxiproxy, name: 'kafka' } }),
      workDir,
      log,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
