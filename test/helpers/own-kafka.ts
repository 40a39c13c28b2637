import { startKafka, type RunningKafka, type StartKafkaOptions } from '../../scripts/kafka/kafka.js';

/**
 * A Kafka of the test's own (`startKafka`), started again on other free ports when one it picked
 * was taken before the JVM could bind it: the ports are free when chosen, but the JVM takes
 * seconds to start, and other processes on a busy machine open connections meanwhile.
 */
export async function startOwnKafka(options: Omit<StartKafkaOptions, 'ports'> = {}, attempts = 3): Promise<RunningKafka> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startKafka(options);
    } catch (error) {
      if (attempt >= attempts || !/Address already in use/.test(String(error))) throw error;
    }
  }
}
