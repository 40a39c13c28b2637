// A preload (`node --import ./scripts/perf/process-probe.mjs ...`) that writes, once a second, what
// stalls this process's event loop: the loop delay (p50/p99/max, 1 ms resolution), the GC pauses
// (count, sum and longest; scavenges and mark-compacts apart) and the CPU time used. Issue 17: it
// tells a broker's own stalls from those of the load generator, the subscriber or the machine.
// Node built-ins only. Ingress worker processes inherit it (cluster passes execArgv on).
//
//   PROBE_DIR   where the files go (default: the system's temporary folder); one file per process,
//               `probe-<role>-<pid>.txt`
//   PROBE_ROLE  the role in the file name (default `node`); a cluster worker is always `ingress-worker`
//
// One line a second: `<epoch ms> loop p50 X p99 Y max Z | scavenge n N sum S max M | mark-compact
// n N sum S max M | cpu C ms`. scripts/perf/latency-over-time.mjs (PROBE=1) reads them back.
import cluster from 'node:cluster';
import { appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { constants, monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';

const role = cluster.isWorker ? 'ingress-worker' : (process.env.PROBE_ROLE ?? 'node');
const file = path.join(process.env.PROBE_DIR ?? tmpdir(), `probe-${role}-${process.pid}.txt`);
const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();

const fresh = () => ({ n: 0, sum: 0, max: 0 });
let minor = fresh();
let major = fresh();
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    // Incremental marking steps and weak callbacks are counted with mark-compacts: both are old-space work.
    const bucket = entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR ? minor : major;
    bucket.n++;
    bucket.sum += entry.duration;
    bucket.max = Math.max(bucket.max, entry.duration);
  }
}).observe({ entryTypes: ['gc'] });

let cpu = process.cpuUsage();
const ms = (ns) => (ns / 1e6).toFixed(1);
const gc = (b) => `n ${b.n} sum ${b.sum.toFixed(1)} max ${b.max.toFixed(1)}`;
setInterval(() => {
  const used = process.cpuUsage(cpu);
  cpu = process.cpuUsage();
  const now = (performance.timeOrigin + performance.now()).toFixed(0);
  const line = `${now} loop p50 ${ms(loop.percentile(50))} p99 ${ms(loop.percentile(99))} max ${ms(loop.max)} | scavenge ${gc(minor)} | mark-compact ${gc(major)} | cpu ${((used.user + used.system) / 1000).toFixed(0)} ms\n`;
  loop.reset();
  minor = fresh();
  major = fresh();
  try {
    appendFileSync(file, line);
  } catch {
    // The folder went away (the run is over): nothing to report to.
  }
}, 1000).unref();
