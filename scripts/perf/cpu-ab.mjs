#!/usr/bin/env node
// CPU per event of `kafka-broker start` (Kafka): one or more checkouts side by side, each with one
// Broker and one unfiltered Trigger to its own counting subscriber, driven in alternating rounds at
// a fixed open-loop rate with 1 KiB binary events (as ce-post.lua). Per round and checkout: the
// utime+stime of the broker's processes (the main process and its ingress workers, from /proc)
// over the round, divided by the events delivered. Prints each round and the median, per checkout,
// and the median of the per-round ratios against the first checkout; and each round's end-to-end
// latency (POST sent to first delivery) p50 and p99.
//
// Usage: KAFKA_BOOTSTRAP_SERVERS=host:port node scripts/perf/cpu-ab.mjs [--rate 2000] [--seconds 10]
//          [--rounds 6] [--prof <dir>] <checkout>[::NAME=value,...] ...
// --prof runs each broker with --cpu-prof (profiles written on exit into <dir>/<n>/).
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { freePort, writeBrokerAndTrigger } from './bench-broker.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { rate: { type: 'string', default: '2000' }, seconds: { type: 'string', default: '10' }, rounds: { type: 'string', default: '6' }, prof: { type: 'string' } },
});
const kafka = process.env.KAFKA_BOOTSTRAP_SERVERS;
if (kafka === undefined || positionals.length === 0) {
  console.error('usage: KAFKA_BOOTSTRAP_SERVERS=... node cpu-ab.mjs [--rate N] [--seconds S] [--rounds R] [--prof dir] <checkout>...');
  process.exit(2);
}
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const HZ = 100;
const work = mkdtempSync(path.join(tmpdir(), 'cpu-ab-'));
const run = Math.random().toString(16).slice(2, 10);
const children = [];

/** A subscriber in this process: counts distinct ce-ids (this process's CPU is not measured). */
function startSink() {
  const seen = new Set();
  const sentAt = new Map();
  const latencies = [];
  const server = createServer((req, res) => {
    const id = req.headers['ce-id'];
    req.resume();
    req.on('end', () => {
      if (typeof id === 'string' && !seen.has(id)) {
        seen.add(id);
        const at = sentAt.get(id);
        if (at !== undefined) {
          latencies.push(performance.now() - at);
          sentAt.delete(id);
        }
      }
      res.writeHead(202);
      res.end();
    });
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, seen, sentAt, latencies, port: server.address().port })));
}

/** [user, system] clock ticks of a process so far. */
function ticksOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return [Number(fields[11]), Number(fields[12])];
  } catch {
    return [0, 0];
  }
}

function pidsOf(pid) {
  let kids = [];
  try {
    kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch { /* gone */ }
  return [pid, ...kids];
}

const body = Buffer.alloc(1024, 'x');
let counter = 0;
function headers(prefix) {
  counter++;
  return {
    'ce-specversion': '1.0', 'ce-id': `${prefix}-${counter}`, 'ce-source': '/bench/cpu-ab', 'ce-type': 'dev.bench.event',
    'content-type': 'application/octet-stream',
  };
}

/** Sends `count` events at `rate`/s (open loop, 5 ms ticks); resolves with how many got 202. */
async function load(target, count, perSecond) {
  let sent = 0;
  let accepted = 0;
  let done = 0;
  const started = performance.now();
  await new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(count, Math.floor(((performance.now() - started) / 1000) * perSecond));
      for (; sent < due; sent++) {
        const h = headers(target.prefix);
        target.sink.sentAt.set(h['ce-id'], performance.now());
        target.pool.request({ method: 'POST', path: target.path, headers: h, body }).then(async (res) => {
          await res.body.dump();
          if (res.statusCode === 202) accepted++;
        }, () => undefined).finally(() => {
          if (++done === count) resolve();
        });
      }
      if (sent < count) setTimeout(tick, 5);
    };
    tick();
  });
  return accepted;
}

async function waitDelivered(target, expected, maxMs = 60_000) {
  const until = Date.now() + maxMs;
  while (target.sink.seen.size < expected && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  return target.sink.seen.size;
}

/** `<checkout>[::NAME=value,...]`: extra environment for that broker (A/B of a setting). */
async function startTarget(spec, index) {
  const [dir, extra = ''] = spec.split('::');
  const checkout = path.resolve(dir);
  const label = extra === '' ? path.basename(checkout) : `${path.basename(checkout)}:${extra}`;
  // Split at the first '=' only: a value may hold one (NODE_OPTIONS=--max-semi-space-size=32).
  const extraEnv = Object.fromEntries(extra.split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  const sink = await startSink();
  const port = await freePort();
  const adminPort = await freePort();
  const ns = `cpuab${run}x${index}`;
  const manifests = path.join(work, `m${index}`);
  mkdirSync(manifests);
  writeBrokerAndTrigger(path.join(manifests, 'bench.yaml'), { namespace: ns, trigger: 'bench', subscriberPort: sink.port });
  const nodeArgs = [];
  if (values.prof !== undefined) {
    const dir = path.resolve(values.prof, String(index));
    mkdirSync(dir, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
  }
  const child = spawn(process.execPath, [...nodeArgs, path.join(checkout, 'bin/kafka-broker.js'), 'start', '--manifests', manifests, '--port', String(port), '--admin-port', String(adminPort), '--kafka', kafka, '--no-admin-auth'], {
    cwd: checkout, env: { ...process.env, ...extraEnv, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 32 });
  const target = { checkout, label, child, sink, pool, path: `/${ns}/default`, prefix: `${run}-${index}`, rows: [], p50s: [] };
  // Ready when an event is accepted and delivered.
  for (let i = 0; ; i++) {
    if (i > 600) throw new Error(`${checkout}: not ready`);
    try {
      const res = await pool.request({ method: 'POST', path: target.path, headers: headers(target.prefix), body });
      await res.body.dump();
      if (res.statusCode === 202 && (await waitDelivered(target, 1, 500)) >= 1) break;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 500));
  }
  return target;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

let stopping = false;
async function stopAll() {
  if (stopping) return;
  stopping = true;
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r() : c.on('exit', r)))));
}
process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));

try {
  const targets = [];
  for (const [i, checkout] of positionals.entries()) targets.push(await startTarget(checkout, i));
  const n = Math.round(rate * seconds);
  // Warm-up: JIT, connections, consumer groups.
  for (const t of targets) {
    const before = t.sink.seen.size;
    const ok = await load(t, Math.round(n / 2), rate);
    await waitDelivered(t, before + ok);
  }
  console.log(`rate ${rate}/s, ${n} events a round; pids: ${targets.map((t) => pidsOf(t.child.pid).join('+')).join(', ')}`);
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) {
      const pids = pidsOf(t.child.pid);
      const before = t.sink.seen.size;
      t.sink.latencies.length = 0;
      const c0 = pids.map(ticksOf);
      const ok = await load(t, n, rate);
      const delivered = (await waitDelivered(t, before + ok)) - before;
      const c1 = pids.map(ticksOf);
      const per = (ticks) => (ticks * 1e6) / HZ / Math.max(delivered, 1);
      const us = pids.map((_, k) => per(c1[k][0] + c1[k][1] - c0[k][0] - c0[k][1]));
      const total = us.reduce((a, b) => a + b, 0);
      // The kernel's share (system time: socket reads and writes, mostly) against our code's.
      const system = pids.reduce((sum, _, k) => sum + per(c1[k][1] - c0[k][1]), 0);
      t.rows.push(total);
      const lat = [...t.sink.latencies].sort((a, b) => a - b);
      const p = (q) => (lat.length === 0 ? NaN : lat[Math.min(lat.length - 1, Math.floor(q * lat.length))]);
      t.p50s.push(p(0.5));
      console.log(`round ${r + 1} ${t.label.padEnd(16)} accepted ${ok} delivered ${delivered}  cpu µs/event ${total.toFixed(1)} (${us.map((u) => u.toFixed(1)).join(' + ')}; system ${system.toFixed(1)})  e2e p50 ${p(0.5).toFixed(1)} ms p99 ${p(0.99).toFixed(1)} ms`);
    }
  }
  const base = targets[0].rows;
  for (const t of targets) {
    const ratios = t.rows.map((v, k) => v / base[k]);
    console.log(`${t.label}: median ${median(t.rows).toFixed(1)} µs/event; median ratio to first ${median(ratios).toFixed(3)}; median e2e p50 ${median(t.p50s).toFixed(1)} ms`);
  }
} finally {
  await stopAll();
  process.exit(0);
}
