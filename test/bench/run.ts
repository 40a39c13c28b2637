/**
 * `npm run bench [-- <name> ...]`: runs the benchmarks (test/bench/<name>.bench.ts) one after
 * another, each in its own process so that one's heap does not colour the next one's figures.
 * Benchmarks print figures and ratios against a baseline measured in the same run; they never
 * fail on speed. Those that need Kafka use KAFKA_BOOTSTRAP_SERVERS, or a local Kafka started here.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const all = readdirSync(here).filter((f) => f.endsWith('.bench.ts')).map((f) => f.replace(/\.bench\.ts$/, '')).sort();
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')} (have: ${all.join(', ')})`);
  process.exit(1);
}
const names = wanted.length > 0 ? wanted : all;

const env = { ...process.env };
let stop: (() => Promise<void>) | undefined;
if (!env['KAFKA_BOOTSTRAP_SERVERS']) {
  const { startKafka } = await import('../../scripts/kafka/kafka.js');
  console.error('starting a local Kafka for the benchmarks...');
  // The collector `npm run kafka` uses: the benchmarks measure latency too (docs/latency.md).
  const kafka = await startKafka({ onProgress: (line) => console.error(`  ${line}`), gc: 'zgc' });
  env['KAFKA_BOOTSTRAP_SERVERS'] = kafka.bootstrapServers;
  stop = () => kafka.stop();
}

let failed = 0;
for (const name of names) {
  console.log(`\n=== ${name} ===`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', path.join(here, `${name}.bench.ts`)], { stdio: 'inherit', env });
  if (result.status !== 0) failed++;
}
await stop?.();
process.exit(failed === 0 ? 0 : 1);
