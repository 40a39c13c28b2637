/**
 * What holding events costs the in-memory log in GC pauses (issue 17's in-memory latency tail):
 * 60,000 1 KiB events with seven CloudEvent headers appended and consumed, as the log holds them
 * (each packed in one buffer) and, as the baseline in the same run, also held as the objects they
 * arrive as (a headers object and a Buffer per header, as the log held them before). Figures,
 * not a test: GC pauses (count, total, longest) and heap.
 *
 *   node --import tsx --expose-gc test/bench/memory-log.bench.ts
 */
import { PerformanceObserver } from 'node:perf_hooks';
import type { AppendRecord } from '../../core/event-log/port.js';
import { MemoryEventLog } from '../../core/event-log/memory.js';

const EVENTS = 60_000;
const value = Buffer.alloc(1024, 120);

function event(i: number): AppendRecord {
  return {
    key: null,
    value: Buffer.from(value),
    headers: {
      ce_specversion: Buffer.from('1.0'), ce_id: Buffer.from(`e2e-${i}`), ce_source: Buffer.from('/bench/e2e'), ce_type: Buffer.from('dev.bench.e2e'),
      'content-type': Buffer.from('application/octet-stream'), ce_time: Buffer.from(new Date().toISOString()),
      traceparent: Buffer.from('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'),
    },
  };
}

interface Figures { pauses: number; totalMs: number; maxMs: number; heapMb: number }

async function run(hold: 'log' | 'objects'): Promise<Figures> {
  (globalThis as { gc?: () => void }).gc?.();
  const log = new MemoryEventLog();
  await log.ensureTopic('t', { partitions: 10, replicationFactor: 1 });
  const kept: AppendRecord[] = [];
  let done = 0;
  await log.consume({ groupId: 'g', topics: ['t'], start: 'earliest', onRecord: (r) => setImmediate(() => { done++; r.done(); }) });
  const pauses: number[] = [];
  const observer = new PerformanceObserver((list) => { for (const e of list.getEntries()) pauses.push(e.duration); });
  observer.observe({ entryTypes: ['gc'] });
  for (let i = 0; i < EVENTS; i += 10) {
    const records = Array.from({ length: 10 }, (_, j) => event(i + j));
    // The baseline keeps the records as they came, as the log used to.
    if (hold === 'objects') kept.push(...records);
    await log.append('t', records);
    await new Promise((resolve) => setImmediate(resolve));
  }
  while (done < EVENTS) await new Promise((resolve) => setTimeout(resolve, 5));
  await new Promise((resolve) => setTimeout(resolve, 50));
  observer.disconnect();
  const heapMb = process.memoryUsage().heapUsed / 1e6;
  await log.close();
  // Dropped only now: the baseline's records stay held for the whole measurement.
  kept.length = 0;
  return { pauses: pauses.length, totalMs: pauses.reduce((a, b) => a + b, 0), maxMs: Math.max(0, ...pauses), heapMb };
}

const show = (name: string, f: Figures): void =>
  console.log(`${name.padEnd(26)} GC pauses ${String(f.pauses).padStart(4)}, total ${f.totalMs.toFixed(0).padStart(5)} ms, longest ${f.maxMs.toFixed(1).padStart(6)} ms, heap ${f.heapMb.toFixed(0)} MB`);

for (let round = 1; round <= 2; round++) {
  const baseline = await run('objects');
  const ours = await run('log');
  show(`held as objects (round ${round})`, baseline);
  show(`packed (round ${round})`, ours);
  console.log(`  GC time ratio ${(ours.totalMs / baseline.totalMs).toFixed(2)}, longest pause ratio ${(ours.maxMs / baseline.maxMs).toFixed(2)}`);
}
