// CPU time the broker spends per event, batch by batch from Ready on: how much dearer the first
// events are than later ones (issue 17's start-up backlog). Starts `kafka-broker start` in memory
// with one broker and one trigger, sends 1 KiB events in batches of 500 (closed loop, 10 at a
// time) and reads the broker's CPU (utime + stime, /proc, Linux only) around each batch.
// CPU time, not wall time, so the figures hold on a shared machine.
//
// Usage: node scripts/perf/warm-up-cost.mjs [batches=10]
//   WARM_UP_EVENTS=0   compare with no start-up warm-up (bin/warm-up.ts)
//   FLAGS='...'        node flags for the broker
import http from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, writeBrokerAndTrigger } from './bench-broker.mjs';
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sub = http.createServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(200).end()); });
const subPort = await freePort(); await new Promise((r) => sub.listen(subPort, '127.0.0.1', r));
let delivered = 0; sub.on('request', () => delivered++);
const dir = mkdtempSync(path.join(tmpdir(), 'kb-warm-'));
writeBrokerAndTrigger(path.join(dir, 'a.yaml'), { namespace: 'w', trigger: 'all', subscriberPort: subPort });
const port = await freePort(), admin = await freePort();
const env = { ...process.env, LOG_LEVEL: 'warn' }; delete env.KAFKA_BOOTSTRAP_SERVERS;
const proc = spawn(process.execPath, [...(process.env.FLAGS ?? '').split(' ').filter(Boolean), 'bin/kafka-broker.js', 'start', '--manifests', dir, '--port', String(port), '--admin-port', String(admin), '--no-admin-auth'], { cwd: repo, env, stdio: ['ignore', 'ignore', 'ignore'] });
const cpu = () => { const f = readFileSync(`/proc/${proc.pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
for (;;) { try { if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) break; } catch { /* not yet */ } await new Promise((r) => setTimeout(r, 50)); }
await new Promise((r) => setTimeout(r, 1000));
const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
const body = Buffer.alloc(1024, 120);
let id = 0;
const post = () => new Promise((resolve) => { const req = http.request(`http://127.0.0.1:${port}/w/default`, { method: 'POST', agent, headers: { 'ce-specversion': '1.0', 'ce-id': `e${id++}`, 'ce-source': '/w', 'ce-type': 'w', 'content-type': 'application/octet-stream', 'content-length': body.length } }, (res) => { res.resume(); res.on('end', resolve); }); req.end(body); });
const out = [];
for (let b = 0; b < Number(process.argv[2] ?? 12); b++) {
  const c0 = cpu(); const target = delivered + 500; let n = 0;
  await Promise.all(Array.from({ length: 10 }, async () => { while (n++ < 500) await post(); }));
  while (delivered < target) await new Promise((r) => setTimeout(r, 2));
  out.push(((cpu() - c0) / 500 * 1000).toFixed(0));
}
console.log(`broker CPU µs/event, batches of 500 (WARM_UP_EVENTS=${process.env.WARM_UP_EVENTS ?? 'default'}): ${out.join(' ')}`);
proc.kill('SIGINT'); agent.destroy(); sub.close(); rmSync(dir, { recursive: true, force: true });
