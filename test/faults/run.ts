/**
 * `npm run faults [-- <scenario key>...]`: the fault-injection suite, every scenario at full size
 * on its own Kafka behind Toxiproxy (both started, and built or fetched on first use, here).
 * Prints the report table; exits 1 if any acknowledged event was lost or a scenario failed.
 *
 *   FAULTS_EVENTS=<n>   events per scenario instead of 3000
 *   FAULTS_SIZE=short   the sizes of the `npm test` version (hundreds of events, 10 s faults)
 *   FAULTS_KEEP=1       keep every scenario's logs and manifests (kept anyway when one loses events)
 */
import { startOwnInfra } from './infra.js';
import { FULL, SCENARIOS, SHORT, type Size } from './scenarios.js';
import { formatReport, type ReportRow } from './tally.js';

const started = Date.now();
const log = (line: string): void => {
  process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
};

async function main(): Promise<number> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !SCENARIOS.some((s) => s.key === w));
  if (unknown.length > 0) {
    process.stderr.write(`unknown scenario ${unknown.join(', ')}; the scenarios are: ${SCENARIOS.map((s) => s.key).join(', ')}\n`);
    return 2;
  }
  const base = process.env['FAULTS_SIZE'] === 'short' ? SHORT : FULL;
  const events = Number(process.env['FAULTS_EVENTS'] ?? base.events);
  if (!Number.isInteger(events) || events < 10) {
    process.stderr.write(`FAULTS_EVENTS must be an integer of at least 10, got "${process.env['FAULTS_EVENTS']}"\n`);
    return 2;
  }
  const size: Size = { ...base, events };
  const infra = await startOwnInfra({ proxy: true, log });
  const rows: ReportRow[] = [];
  const failures: string[] = [];
  try {
    for (const scenario of SCENARIOS.filter((s) => wanted.length === 0 || wanted.includes(s.key))) {
      log(`${scenario.title}`);
      try {
        const row = await scenario.run(infra, size);
        rows.push(row);
        log(`${scenario.key}: acked ${row.tally.acknowledged}, delivered ${row.tally.delivered}, lost ${row.tally.lost}, duplicates ${row.tally.duplicates}`);
      } catch (error) {
        failures.push(`${scenario.key}: ${error instanceof Error ? error.message : String(error)}`);
        log(`${scenario.key} FAILED: ${failures.at(-1)}`);
      } finally {
        // A scenario that failed half way must not leave its toxics to the next one.
        await infra.proxy?.toxiproxy.reset().catch(() => undefined);
      }
    }
  } finally {
    await infra.close();
  }
  process.stdout.write(`\n${formatReport(rows)}\n`);
  for (const failure of failures) process.stdout.write(`FAILED ${failure}\n`);
  const lost = rows.reduce((sum, r) => sum + r.tally.lost, 0);
  process.stdout.write(`\n${rows.length} scenarios run, ${failures.length} failed, ${lost} events lost, in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  return lost > 0 || failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`faults: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
