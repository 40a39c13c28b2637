import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exposureProblem, hostAllowed, isLoopbackHost, sameOrigin } from '../../../../core/admin-auth/index.js';

test('isLoopbackHost: loopback addresses and localhost only', () => {
  const table: [string, boolean][] = [
    ['127.0.0.1', true], ['127.1.2.3', true], ['localhost', true], ['::1', true], ['[::1]', true], ['app.localhost', true],
    ['0.0.0.0', false], ['::', false], ['10.0.0.1', false], ['example.com', false], ['128.0.0.1', false],
  ];
  for (const [host, expected] of table) assert.equal(isLoopbackHost(host), expected, host);
});

test('exposureProblem: anywhere but loopback needs authentication', () => {
  assert.equal(exposureProblem('127.0.0.1', false), undefined);
  assert.equal(exposureProblem('0.0.0.0', true), undefined);
  assert.match(exposureProblem('0.0.0.0', false) ?? '', /would listen on 0\.0\.0\.0 without authentication/);
  assert.match(exposureProblem('192.168.1.10', false) ?? '', /without authentication/);
});

test('hostAllowed: IP literals, localhost and the configured names; never an unknown name (DNS rebinding)', () => {
  const names = ['kafka-broker-controller.knative-eventing.svc'];
  const table: [string | undefined, boolean][] = [
    ['127.0.0.1:9090', true], ['[::1]:9090', true], ['10.1.2.3', true], ['localhost:9090', true], ['LOCALHOST', true],
    ['kafka-broker-controller.knative-eventing.svc:9090', true], ['Kafka-Broker-Controller.knative-eventing.svc', true],
    ['evil.example', false], ['evil.example:9090', false], ['localhost.evil.example', false], [undefined, false], ['', false],
    ['127.0.0.1@evil.example', false], ['a b', false],
  ];
  for (const [host, expected] of table) assert.equal(hostAllowed(host, names), expected, String(host));
});

test("sameOrigin: the Origin must be the server's own, as the Host header names it", () => {
  assert.equal(sameOrigin('http://127.0.0.1:9090', '127.0.0.1:9090'), true);
  assert.equal(sameOrigin('http://evil.example', '127.0.0.1:9090'), false);
  assert.equal(sameOrigin('http://evil.example', 'evil.example'), true, 'the Host check catches this one');
  assert.equal(sameOrigin('http://127.0.0.1:9091', '127.0.0.1:9090'), false);
  assert.equal(sameOrigin('null', '127.0.0.1:9090'), false);
  assert.equal(sameOrigin('file:///x', '127.0.0.1:9090'), false);
  assert.equal(sameOrigin('not a url', '127.0.0.1:9090'), false);
});
