// Where the end-to-end latency tail comes from, second by second (issue 17). Like the shared
// harness's e2e-latency.mjs (POST -> broker -> one unfiltered trigger -> subscriber, open loop at a
// fixed rate, 1 KiB bodies), but the sender runs in a process of its own (node:http with a
// keep-alive agent, cheaper than fetch) and stamps each event with its send time (extension
// `perfsent`, epoch ms), so a stall of the sender or of the subscriber is not blamed on the broker.
// Per second of sending it prints: events sent, how late the sender was on its schedule, the
// p50/p99/max of the 202 (ingress receive -> append acknowledged) and of the delivery (sent ->
// subscriber). A namespace of its own: it does not mix with a harness run on the same Kafka.
//
// Usage: node scripts/perf/latency-over-time.mjs [rate=1000] [seconds=20] [warmup_s=0]
//   KAFKA_BOOTSTRAP_SERVERS=host:port  on Kafka (default: in memory)
//   BROKER_NODE_FLAGS='--trace-gc'      node flags for the broker only (--cpu-prof, --max-semi-space-size=...)
//   BROKER_STDOUT=file                  where the broker's stdout goes (--trace-gc writes there)
//   BROKER_ARGS='--single-process'      more arguments for `kafka-broker start`
//   PROBE=1                             per second and process (broker, ingress worker, sender,
//                                       subscriber): the longest event-loop stall, the longest GC
//                                       pause and the CPU time (scripts/perf/process-probe.mjs)
//   KAFKA_JVM_PID=<pid>                 also Kafka's own GC pauses per second (jstat, from the JDK)
// The last line sums up the seconds after warmup_s.
import http from 'node:http';
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { freePort, writeBrokerAndTrigger } from './bench-broker.mjs';

const epochMs = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (process.argv[2] === '--sender') await sender(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
else await main();

/** The sender: POSTs `rate` events a second for `seconds`, then sends its records to the parent. */
async function sender(url, rate, seconds) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const body = Buffer.alloc(1024, 120);
  const total = rate * seconds;
  const records = new Array(total);
  let inflight = 0, n = 0;
  const post = (i, scheduled) => {
    const sent = epochMs();
    const record = { scheduled, sent, ack: undefined, status: 0 };
    records[i] = record;
    inflight++;
    const req = http.request(url, {
      method: 'POST', agent, headers: {
        'ce-specversion': '1.0', 'ce-id': `e-${i}`, 'ce-source': '/perf/latency', 'ce-type': 'dev.perf.latency',
        'ce-perfsent': sent.toFixed(3), 'content-type': 'application/octet-stream', 'content-length': body.length,
      },
    }, (res) => {
      res.resume();
      res.on('end', () => { record.ack = epochMs() - sent; record.status = res.statusCode; inflight--; });
    });
    req.on('error', () => { record.status = -1; inflight--; });
    req.end(body);
  };
  const start = epochMs();
  while (n < total) {
    const due = Math.min(total, Math.floor((epochMs() - start) / 1000 * rate));
    while (n < due) {
      if (inflight < 512) post(n, start + (n * 1000) / rate);
      else records[n] = { scheduled: start + (n * 1000) / rate, sent: NaN, ack: undefined, status: -2 };
      n++;
    }
    await sleep(1);
  }
  const until = epochMs() + 30_000;
  while (inflight > 0 && epochMs() < until) await sleep(20);
  agent.destroy();
  process.send({ start, records }, () => process.exit(0));
}

async function main() {
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const probe = process.env.PROBE === '1' ? path.join(repo, 'scripts/perf/process-probe.mjs') : undefined;
  const probeDir = probe === undefined ? undefined : mkdtempSync(path.join(tmpdir(), 'kb-probe-'));
  if (probe !== undefined) {
    process.env.PROBE_DIR = probeDir;
    process.env.PROBE_ROLE = 'subscriber';
    await import(probe);
  }
  const jvm = process.env.KAFKA_JVM_PID ? jvmGcSampler(process.env.KAFKA_JVM_PID) : undefined;
  const rate = Number(process.argv[2] ?? 1000);
  const seconds = Number(process.argv[3] ?? 20);
  const warmup = Number(process.argv[4] ?? 0);
  const namespace = `lat${process.pid}`;
  const pct = (sorted, p) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]);
  const fmt = (x) => (Number.isNaN(x) ? '    - ' : x.toFixed(1).padStart(6));

  /** Per event id: epoch ms at arrival at the subscriber (the first), and the sent stamp it carried. */
  const arrived = new Map();
  let duplicates = 0;
  const sub = http.createServer((req, res) => {
    const at = epochMs();
    const id = req.headers['ce-id'];
    if (arrived.has(id)) duplicates++;
    else arrived.set(id, at - Number(req.headers['ce-perfsent']));
    req.resume();
    req.on('end', () => res.writeHead(200).end());
  });
  sub.keepAliveTimeout = 60_000;
  const subPort = await freePort();
  await new Promise((r) => sub.listen(subPort, '127.0.0.1', r));

  const dir = mkdtempSync(path.join(tmpdir(), 'kb-lat-'));
  writeBrokerAndTrigger(path.join(dir, 'all.yaml'), { namespace, trigger: 'all', subscriberPort: subPort });
  const port = await freePort();
  const adminPort = await freePort();
  const mode = process.env.KAFKA_BOOTSTRAP_SERVERS ? 'kafka' : 'memory';
  const env = { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', PROBE_ROLE: 'broker' };
  if (mode === 'memory') delete env.KAFKA_BOOTSTRAP_SERVERS;
  const split = (s) => (s ?? '').split(' ').filter((f) => f !== '');
  const stdout = process.env.BROKER_STDOUT ? openSync(process.env.BROKER_STDOUT, 'w') : 'ignore';
  const proc = spawn(process.execPath, [
    ...(probe === undefined ? [] : ['--import', probe]), ...split(process.env.BROKER_NODE_FLAGS), path.join(repo, 'bin/kafka-broker.js'), 'start', '--manifests', dir,
    '--port', String(port), '--admin-port', String(adminPort), '--no-admin-auth', ...split(process.env.BROKER_ARGS),
  ], { cwd: repo, env, detached: true, stdio: ['ignore', stdout, 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr = (stderr + d).slice(-8000); });
  const stop = () => {
    try { process.kill(-proc.pid, 'SIGINT'); } catch { /* gone */ }
    sub.close();
    jvm?.stop();
    rmSync(dir, { recursive: true, force: true });
    if (probeDir !== undefined) rmSync(probeDir, { recursive: true, force: true });
  };

  try {
    const t0 = epochMs();
    for (;;) {
      try { if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) break; } catch { /* not yet */ }
      if (epochMs() - t0 > 60_000) throw new Error(`broker not ready in 60 s:\n${stderr}`);
      await sleep(50);
    }
    console.log(`${mode}: ready after ${((epochMs() - t0) / 1000).toFixed(2)} s; sending ${rate}/s for ${seconds} s`);
    const child = fork(fileURLToPath(import.meta.url), ['--sender', `http://127.0.0.1:${port}/${namespace}/default`, String(rate), String(seconds)], {
      stdio: 'inherit', execArgv: probe === undefined ? [] : ['--import', probe], env: { ...process.env, PROBE_ROLE: 'sender' },
    });
    const { start, records } = await new Promise((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`the sender exited (${code})`)));
    });
    const accepted = records.filter((r) => r.status === 202).length;
    const until = epochMs() + 30_000;
    while (arrived.size < accepted && epochMs() < until) await sleep(50);

    console.log(' s  accepted | sender late max | 202 p50    p99    max | e2e p50    p99    max');
    const after = [];
    for (let s = 0; s < seconds; s++) {
      const lateness = [], acks = [], e2e = [];
      for (let i = s * rate; i < (s + 1) * rate; i++) {
        const r = records[i];
        if (r.status !== 202) continue;
        lateness.push(r.sent - r.scheduled);
        acks.push(r.ack);
        const d = arrived.get(`e-${i}`);
        if (d !== undefined) e2e.push(d);
      }
      for (const list of [lateness, acks, e2e]) list.sort((a, b) => a - b);
      if (s >= warmup) after.push(...e2e);
      console.log(`${String(s).padStart(2)} ${String(acks.length).padStart(9)} |          ${fmt(pct(lateness, 1))} | ${fmt(pct(acks, 0.5))} ${fmt(pct(acks, 0.99))} ${fmt(pct(acks, 1))} | ${fmt(pct(e2e, 0.5))} ${fmt(pct(e2e, 0.99))} ${fmt(pct(e2e, 1))}`);
    }
    if (probeDir !== undefined || jvm !== undefined) printStalls(start, seconds, probeDir, jvm);
    after.sort((a, b) => a - b);
    const lost = records.filter((r, i) => r.status === 202 && !arrived.has(`e-${i}`)).length;
    const refused = records.length - accepted;
    console.log(`${mode} after ${warmup} s: e2e p50 ${fmt(pct(after, 0.5)).trim()} ms p99 ${fmt(pct(after, 0.99)).trim()} ms max ${fmt(pct(after, 1)).trim()} ms; refused ${refused}, lost ${lost} of ${accepted}, duplicates ${duplicates}`);
    process.exitCode = lost === 0 ? 0 : 1;
  } catch (error) {
    console.log(`failed: ${error.message}`);
    process.exitCode = 1;
  } finally {
    stop();
  }
}

/**
 * Per second of sending, per process: the longest event-loop stall and GC pause and the CPU used
 * (from the probe files), and Kafka's GC pauses (from jstat). A probe line covers the second
 * before its time stamp, so second s is read from the first line stamped in its second half on.
 */
function printStalls(start, seconds, probeDir, jvm) {
  const columns = [];
  for (const name of probeDir === undefined ? [] : readdirSync(probeDir).sort()) {
    const role = name.replace(/^probe-/, '').replace(/-\d+\.txt$/, '');
    const lines = readFileSync(path.join(probeDir, name), 'utf8').trim().split('\n').map((line) => {
      const n = line.split(' ');
      // <epoch> loop p50 X p99 Y max Z | scavenge n N sum S max M | mark-compact n N sum S max M | cpu C ms
      return { at: Number(n[0]), loopMax: Number(n[7]), gcMax: Math.max(Number(n[15]), Number(n[23])), cpu: Number(n[26]) };
    });
    columns.push({ role, cell: (s) => {
      const l = lines.find((x) => x.at >= start + s * 1000 + 500);
      return l === undefined ? '-' : `${l.loopMax.toFixed(0)}/${l.gcMax.toFixed(0)}/${l.cpu}`;
    } });
  }
  if (jvm !== undefined) columns.push({ role: 'kafka-jvm', cell: (s) => jvm.pauses(start + s * 1000, start + (s + 1) * 1000) });
  console.log(`stalls per second, ms (process: loop max/GC max/CPU; kafka-jvm: young GCs+full GCs/pause sum)`);
  console.log(` s  ${columns.map((c) => c.role.padStart(18)).join(' ')}`);
  for (let s = 0; s < seconds; s++) console.log(`${String(s).padStart(2)}  ${columns.map((c) => c.cell(s).padStart(18)).join(' ')}`);
}

/** Samples a JVM's GC counters with jstat every 100 ms; pauses(from, to) sums what changed between. */
function jvmGcSampler(pid) {
  const samples = [];
  const proc = spawn('jstat', ['-gc', pid, '100'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let header, pending = '';
  proc.on('error', () => undefined);
  proc.stdout.on('data', (chunk) => {
    const at = epochMs();
    const lines = (pending + chunk).split('\n');
    pending = lines.pop();
    for (const line of lines) {
      const f = line.trim().split(/\s+/);
      if (f[0] === 'S0C') header = f;
      else if (header !== undefined) {
        const v = (name) => Number(f[header.indexOf(name)]);
        samples.push({ at, young: v('YGC'), youngS: v('YGCT'), full: v('FGC'), fullS: v('FGCT') });
      }
    }
  });
  return {
    stop: () => proc.kill(),
    pauses: (from, to) => {
      const before = samples.filter((x) => x.at <= from).pop();
      const until = samples.filter((x) => x.at <= to).pop();
      if (before === undefined || until === undefined) return '-';
      const ms = (until.youngS + until.fullS - before.youngS - before.fullS) * 1000;
      return `${until.young - before.young}+${until.full - before.full}/${ms.toFixed(0)}`;
    },
  };
}
