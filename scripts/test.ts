/**
 * `npm test`'s runner: finds every test file, starts a local Kafka first unless
 * KAFKA_BOOTSTRAP_SERVERS names one (the "global setup" node:test lacks on Node 20), runs the
 * files with node's built-in test runner, stops Kafka, and exits with the runner's code.
 *
 *   tsx scripts/test.ts [path-or-substring ...]
 */
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

async function testFiles(filters: string[]): Promise<string[]> {
  const entries = await readdir(path.join(root, 'test'), { recursive: true });
  const files = entries
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => path.join('test', f))
    .sort();
  if (filters.length === 0) return files;
  return files.filter((f) => filters.some((filter) => f.includes(filter)));
}

async function main(): Promise<number> {
  const files = await testFiles(process.argv.slice(2));
  if (files.length === 0) {
    console.error('no test files matched');
    return 1;
  }
  const env = { ...process.env };
  let stopKafka: (() => Promise<void>) | undefined;
  if (!env['KAFKA_BOOTSTRAP_SERVERS']) {
    const { startKafka } = await import('./kafka/kafka.js');
    process.stderr.write('starting a local Kafka for the tests (set KAFKA_BOOTSTRAP_SERVERS to use another)...\n');
    const started = Date.now();
    const kafka = await startKafka({ onProgress: (line) => process.stderr.write(`  ${line}\n`) });
    process.stderr.write(`Kafka ready at ${kafka.bootstrapServers} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    env['KAFKA_BOOTSTRAP_SERVERS'] = kafka.bootstrapServers;
    stopKafka = () => kafka.stop();
  }
  const concurrency = env['TEST_CONCURRENCY'] ?? '2';
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
    { cwd: root, env, stdio: 'inherit' },
  );
  const stop = (): void => {
    child.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const code = await new Promise<number>((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
  if (stopKafka) await stopKafka();
  return code;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`test run failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
