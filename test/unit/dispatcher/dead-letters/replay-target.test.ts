import assert from 'node:assert/strict';
import { test } from 'node:test';
import { replayTargetProblem } from '../../../../dispatcher/dead-letters/replay-target.js';

const own = { urls: ['http://127.0.0.1:9090', 'http://127.0.0.1:8080'], localHosts: ['myhost', '192.168.1.10'] };

test('a replay may go to any http(s) URL but the broker’s own admin API and ingress', () => {
  const table: [string, RegExp | undefined][] = [
    ['http://subscriber.example/pay', undefined],
    ['https://127.0.0.1:8443/x', undefined],
    ['http://127.0.0.1:8081/pay', undefined],
    ['http://127.0.0.1:9090/contract', /own admin API or ingress \(http:\/\/127\.0\.0\.1:9090\)/],
    ['http://localhost:8080/default/default', /own admin API or ingress \(http:\/\/127\.0\.0\.1:8080\)/],
    ['http://[::1]:9090/', /own/],
    ['http://0.0.0.0:9090/', /own/],
    ['http://myhost:8080/', /own/],
    ['http://192.168.1.10:9090/dead-letters/replay', /own/],
    ['http://other.example:9090/', undefined],
    ['ftp://subscriber.example/', /http or https URL/],
    ['file:///etc/passwd', /http or https URL/],
    ['/relative', /http or https URL/],
  ];
  for (const [to, expected] of table) {
    const problem = replayTargetProblem(to, own);
    if (expected === undefined) assert.equal(problem, undefined, to);
    else assert.match(problem ?? '', expected, to);
  }
});
