import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startKafka, type RunningKafka } from '../../scripts/kafka/kafka.js';
import { ensureToxiproxy, startToxiproxy, type Toxiproxy } from '../../scripts/toxiproxy/toxiproxy.js';
import { freePort } from '../helpers/ports.js';
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
    const ports = { broker: await freePort(), controller: await freePort() };
    let advertisedAddress: string | undefined;
    if (options.proxy) {
      const binary = await ensureToxiproxy(process.env, (line) => log(`toxiproxy: ${line}`));
      toxiproxy = await startToxiproxy(binary);
      const listen = await toxiproxy.createProxy('kafka', await freePort(), `127.0.0.1:${ports.broker}`);
      advertisedAddress = `127.0.0.1:${listen}`;
      log(`toxiproxy: 127.0.0.1:${listen} → Kafka 127.0.0.1:${ports.broker} (API ${toxiproxy.apiUrl})`);
    }
    const kafkaOptions = {
      ports,
      dataDir: path.join(workDir, 'kafka-data'),
      heapMb: options.heapMb ?? 512,
      onProgress: (line: string) => log(`kafka: ${line}`),
      ...(advertisedAddress === undefined ? {} : { advertisedAddress }),
    };
    kafka = await startKafka(kafkaOptions);
    const bootstrap = kafka.bootstrapServers;
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
