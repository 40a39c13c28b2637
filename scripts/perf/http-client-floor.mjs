#!/usr/bin/env node
// The HTTP client's own floor for the dispatcher (issue 17): CPU per request of a bare undici loop
// (Agent.dispatch with a minimal handler, as dispatcher/delivery.ts sends) against a bare
// node:http loop (a keep-alive Agent), to the same subscriber in a process of its own (answers
// 202 with no body). Each loop keeps `concurrency` requests in flight, POSTs of 1 KiB with the
// headers of a binary-mode CloudEvent, and measures process.cpuUsage() (user + system: the
// kernel's loopback TCP counts, as it does for the dispatcher) over `requests` requests. Rounds
// alternate undici, http, http, undici, ... after one warm-up round of each; prints each round
// and the median of the pair ratios.
//
// Usage: node scripts/perf/http-client-floor.mjs [--requests 20000] [--concurrency 50] [--pairs 6]
import { spawn } from 'node:child_process';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Agent } from 'undici';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '20000' }, concurrency: { type: 'string', default: '50' }, pairs: { type: 'string', default: '6' } } });
const REQUESTS = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);
const PAIRS = Number(values.pairs);

const sinkCode = `
  const http = require('node:http');
  const server = http.createServer((req, res) => { req.on('data', () => {}); req.on('end', () => { res.writeHead(202, { 'content-length': '0' }); res.end(); }); });
  server.keepAliveTimeout = 60000;
  server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;
const sink = spawn(process.execPath, ['-e', sinkCode], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = Number(await new Promise((resolve) => sink.stdout.once('data', (chunk) => resolve(chunk.toString().trim()))));
const origin = `http://127.0.0.1:${port}`;
const body = Buffer.alloc(1024, 'x');
let n = 0;
const headersOf = () => ({
  'ce-specversion': '1.0', 'ce-id': `e-${++n}`, 'ce-source': '/bench/floor', 'ce-type': 'dev.bench.event',
  'content-type': 'application/octet-stream', prefer: 'reply', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
});

const agent = new Agent({ connections: 128, keepAliveTimeout: 10_000, headersTimeout: 0, bodyTimeout: 0 });
/** One POST through undici's dispatch API; resolves with the status. */
function undiciPost() {
  return new Promise((resolve, reject) => {
    let status = 0;
    agent.dispatch({ origin, path: '/', method: 'POST', headers: headersOf(), body }, {
      onConnect() {},
      onHeaders(code) { status = code; return true; },
      onData() { return true; },
      onComplete() { resolve(status); },
      onError: reject,
    });
  });
}

const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 128 });
/** One POST through node:http; resolves with the status. */
function httpPost() {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', method: 'POST', agent: httpAgent, headers: { ...headersOf(), 'content-length': String(body.length) } }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** `REQUESTS` requests, `CONCURRENCY` at a time; CPU µs per request. */
async function round(post) {
  let started = 0;
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const lane = async () => {
    while (started < REQUESTS) {
      started++;
      const status = await post();
      if (status !== 202) throw new Error(`status ${status}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  const used = process.cpuUsage(cpu);
  return { us: (used.user + used.system) / REQUESTS, system: used.system / REQUESTS, perSecond: REQUESTS / ((performance.now() - t0) / 1000) };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const line = (r) => `${r.us.toFixed(1)} µs/request (system ${r.system.toFixed(1)}), ${r.perSecond.toFixed(0)}/s`;

try {
  const u = [];
  const h = [];
  for (let pair = 0; pair <= PAIRS; pair++) {
    const first = pair % 2 === 0;
    const a = first ? await round(undiciPost) : undefined;
    const b = await round(httpPost);
    const c = first ? a : await round(undiciPost);
    console.log(`${pair === 0 ? 'warm-up' : `pair ${pair}`}: undici ${line(c)} | node:http ${line(b)}`);
    if (pair === 0) continue;
    u.push(c);
    h.push(b);
  }
  const ratios = u.map((r, i) => r.us / h[i].us);
  console.log(`undici ${median(u.map((r) => r.us)).toFixed(1)} µs/request, node:http ${median(h.map((r) => r.us)).toFixed(1)} µs/request; undici/http median ${median(ratios).toFixed(3)} (min ${Math.min(...ratios).toFixed(3)}, max ${Math.max(...ratios).toFixed(3)}), ${CONCURRENCY} in flight`);
} finally {
  await agent.close();
  httpAgent.destroy();
  sink.kill();
}
