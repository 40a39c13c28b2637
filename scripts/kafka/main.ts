// `npm run kafka`: a local Kafka for development that runs until Ctrl-C.
import { KafkaStartError, startKafka } from './kafka.js';

// ZGC by default: its pauses stay under a millisecond where the serial collector's young ones
// stopped Kafka 20-160 ms, the tail of end-to-end latency (issue 17, docs/latency.md). KAFKA_GC=serial
// or g1 picks another (the tests' Kafka stays serial: it starts faster and needs less memory).
const gc = process.env.KAFKA_GC ?? 'zgc';
if (gc !== 'serial' && gc !== 'g1' && gc !== 'zgc') {
  console.error(`error: KAFKA_GC must be serial, g1 or zgc, got "${gc}"`);
  process.exit(2);
}

const started = Date.now();
try {
  const kafka = await startKafka({ onProgress: (line) => console.error(line), gc });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`KAFKA_BOOTSTRAP_SERVERS=${kafka.bootstrapServers}`);
  console.log(
    `Kafka is up after ${seconds} s. Use it with: export KAFKA_BOOTSTRAP_SERVERS=${kafka.bootstrapServers} (Ctrl-C or kill ${process.pid} stops it; broker log: ${kafka.logFile})`,
  );

  // Nothing else holds the event loop open: the JVM child is unref'd on purpose.
  const keepAlive = setInterval(() => {}, 1 << 30);
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) return; // a second Ctrl-C while stopping must not skip the cleanup
    stopping = true;
    console.error(`${signal}: stopping Kafka`);
    kafka.stop().then(
      () => {
        clearInterval(keepAlive);
        process.exit(0);
      },
      (err: unknown) => {
        console.error(`error while stopping Kafka: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  void kafka.crashed.then((report) => {
    console.error(`error: ${report}`);
    process.exit(1);
  });
} catch (err) {
  // Expected failures are one line (plus the broker log tail when there is one); anything else is a bug, so keep the stack.
  if (err instanceof KafkaStartError) console.error(`error: ${err.message}`);
  else console.error(err);
  process.exit(1);
}
