/**
 * Compiled-filter throughput: evaluations per second on one core (JS is single-threaded; pin
 * the process with `taskset -c 0` to keep GC helper threads on the same core too).
 *
 *   npx tsx test/bench/filters.bench.ts
 *
 * Method: each filter is compiled once, from the Knative spec form, as the dispatcher does. A
 * pool of 1024 pre-built, varied events (binary-mode string attributes built as fresh strings the
 * way a decoder makes them, different types and sources, some lacking the extensions) is walked
 * round-robin so that the JIT can't fold the input. All cases are warmed up through the same
 * loop first, then each is timed over a fixed number of evaluations with
 * process.hrtime.bigint(), five times; the median run is reported next to its goal, with the
 * slowest and fastest, and its cost relative to the no-filter baseline measured in the same run.
 * The loop and the pass counter are included in the time. It prints figures and never fails on
 * speed.
 */
import os from 'node:os';
import type { CloudEvent } from '../../core/cloudevents/event.js';
import { compileFilter } from '../../core/filters/compile.js';
import type { EventPredicate } from '../../core/filters/compile.js';
import { triggerFilter } from '../../controller/kinds/trigger-filter.js';

const POOL_SIZE = 1024; // a power of two: index with a mask
const WARMUP = 2_000_000;
const ITERATIONS = 10_000_000;
const RUNS = 5;

/** A fresh heap string, as a decoder produces: never the same object as a literal in a filter. */
function decoded(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

function buildEvents(): CloudEvent[] {
  const types = ['com.example.order.created', 'com.example.order.shipped', 'com.example.invoice.paid', 'org.other.ping'];
  const sources = ['/orders/eu', '/orders/us', '/billing/eu'];
  const subjects = ['a.json', 'test', 'b.json'];
  const events: CloudEvent[] = [];
  for (let i = 0; i < POOL_SIZE; i++) {
    const attributes: Record<string, string> = {
      specversion: '1.0',
      id: `evt-${i}-${(i * 2654435761) >>> 0}`,
      source: sources[i % sources.length] as string,
      type: types[(i * 7) % types.length] as string,
      time: new Date(1_700_000_000_000 + i * 1000).toISOString(),
      datacontenttype: 'application/json',
    };
    if (i % 5 !== 0) attributes.subject = subjects[i % subjects.length] as string;
    if (i % 4 !== 0) attributes.priority = String(i % 10);
    for (const name of Object.keys(attributes)) attributes[name] = decoded(attributes[name] as string);
    events.push({ attributes, data: Buffer.from(`{"n":${i}}`) });
  }
  return events;
}

function compileFromSpec(spec: unknown): EventPredicate {
  const result = triggerFilter(spec);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  let errors = 0;
  // The dispatcher counts and logs CESQL errors; the bench counts them the same way.
  return compileFilter(result.filter, { onEvaluationError: () => void errors++ });
}

interface Case {
  name: string;
  goal: number | undefined;
  spec: unknown;
}

// The no-filter trigger runs first: it is the baseline the others are compared with.
const CASES: Case[] = [
  { name: 'no filter                  ', goal: undefined, spec: {} },
  {
    name: 'exact type filter          ',
    goal: 5_000_000,
    spec: { filters: [{ exact: { type: 'com.example.order.created' } }] },
  },
  {
    name: '3-clause CESQL with LIKE   ',
    goal: 1_000_000,
    spec: { filters: [{ cesql: "type LIKE 'com.example.order.%' AND source = '/orders/eu' AND priority > 3" }] },
  },
];

function time(predicate: EventPredicate, events: readonly CloudEvent[], iterations: number): { ns: bigint; passed: number } {
  const mask = events.length - 1;
  let passed = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    if (predicate(events[i & mask] as CloudEvent)) passed++;
  }
  return { ns: process.hrtime.bigint() - start, passed };
}

function format(perSecond: number): string {
  return `${(perSecond / 1e6).toFixed(2).padStart(7)} M/s`;
}

function main(): void {
  const events = buildEvents();
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(`filters bench: node ${process.version}, ${cpu}, ${POOL_SIZE} events, ${ITERATIONS.toLocaleString('en')} evaluations x ${RUNS} runs, median shown\n`);
  // Every predicate is warmed up through the one timing loop before any is measured: as in the
  // dispatcher, where one call site runs many triggers' filters, the call is polymorphic for
  // all of them, and the figures don't depend on which case runs first.
  const predicates = CASES.map((benchCase) => compileFromSpec(benchCase.spec));
  for (const predicate of predicates) time(predicate, events, WARMUP);
  let baselineNs: number | undefined;
  CASES.forEach((benchCase, index) => {
    const predicate = predicates[index] as EventPredicate;
    const rates: number[] = [];
    let passed = 0;
    for (let run = 0; run < RUNS; run++) {
      const result = time(predicate, events, ITERATIONS);
      rates.push((ITERATIONS * 1e9) / Number(result.ns));
      passed = result.passed;
    }
    rates.sort((a, b) => a - b);
    const median = rates[Math.floor(rates.length / 2)] as number;
    const nsPerEvaluation = 1e9 / median;
    baselineNs ??= nsPerEvaluation;
    const goal =
      benchCase.goal === undefined
        ? 'baseline, no goal'
        : `goal >= ${format(benchCase.goal).trim()}: ${median >= benchCase.goal ? 'met' : 'NOT met'}`;
    console.log(
      `${benchCase.name} ${format(median)}  ${nsPerEvaluation.toFixed(1).padStart(6)} ns/eval` +
        `  x${(nsPerEvaluation / baselineNs).toFixed(1).padStart(5)} baseline` +
        `  [runs ${format(rates[0] as number).trim()} .. ${format(rates.at(-1) as number).trim()}]` +
        `  ${goal}  (${((passed / ITERATIONS) * 100).toFixed(0)}% pass)`,
    );
  });
}

main();
