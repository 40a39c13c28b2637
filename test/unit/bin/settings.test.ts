import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { envName, loadSettings, settingsOf, START_SETTINGS } from '../../../bin/settings.js';

const help = (): string => spawnSync(process.execPath, ['bin/kafka-broker.js', 'start', '--help'], { encoding: 'utf8' }).stdout;

test('start --help lists every config key of the controller, ingress and dispatcher schemas, with its default', () => {
  const text = help();
  for (const group of Object.values(START_SETTINGS)) {
    const fields = 'fields' in group ? group.fields : group.schema;
    for (const key of Object.keys(fields.shape)) {
      if ((group.fromFlags as readonly string[]).includes(key)) continue;
      const setting = settingsOf(group).find((s) => s.key === key)!;
      assert.match(text, new RegExp(`\\n\\s+${setting.env}\\s+${setting.defaultText.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), `${group.component}.${key}`);
    }
  }
  // The keys set by flags are in the help as flags.
  for (const flag of ['--manifests', '--port', '--host', '--kafka', '--admin-port', '--log-format']) assert.match(text, new RegExp(flag));
  assert.doesNotMatch(text, /see [\w/]+\.ts/, 'no pointer to a source file');
});

test('each listed variable sets its key', () => {
  const samples: Record<string, string> = { string: 'Other', number: '7' };
  // Settings whose values have a shape of their own (an enum, a URL, an object).
  const shaped = new Map([
    ['CONTROLLER_AUTHENTICATION_OIDC', 'enabled'],
    ['CONTROLLER_DEFAULT_AUTHORIZATION_MODE', 'deny-all'],
    ['CONTROLLER_INGRESS_HTTPS_URL', 'https://ingress.example'],
    ['INGRESS_TLS', '{"certFile":"tls.crt","keyFile":"tls.key"}'],
    ['INGRESS_PLAIN_HTTP', 'false'],
    ['INGRESS_OIDC', '{"issuer":"https://issuer.example"}'],
    ['DISPATCHER_OIDC_TOKEN_FILES', '{"https://subscriber.example":"/var/run/tokens/subscriber"}'],
  ]);
  for (const group of Object.values(START_SETTINGS)) {
    const given = group.component === 'controller' ? { manifestsDir: '.', ingressUrl: 'http://x' } : {};
    for (const setting of settingsOf(group)) {
      const base = loadSettings(group, {}, given) as Record<string, unknown>;
      const fallback = base[setting.key];
      const raw = shaped.get(setting.env) ?? (setting.json ? '{"retry":1}' : typeof fallback === 'number' ? String(Math.max(Number(fallback), 50) + 1) : samples['string']!);
      const loaded = loadSettings(group, { [setting.env]: raw }, given) as Record<string, unknown>;
      assert.notDeepEqual(loaded[setting.key], fallback, setting.env);
    }
  }
});

test('variable names are the key in upper snake case after the component prefix; a bad value names its variable', () => {
  assert.equal(envName('DISPATCHER_', 'maxInFlightPerEgress'), 'DISPATCHER_MAX_IN_FLIGHT_PER_EGRESS');
  assert.equal(envName('CONTROLLER_', 'topicPartitions'), 'CONTROLLER_TOPIC_PARTITIONS');
  assert.throws(() => loadSettings(START_SETTINGS.dispatcher, { DISPATCHER_MAX_IN_FLIGHT_PER_EGRESS: 'many' }, {}), /^Error: invalid dispatcher setting: DISPATCHER_MAX_IN_FLIGHT_PER_EGRESS: .* \(got "many"\)$/);
  assert.throws(() => loadSettings(START_SETTINGS.controller, { CONTROLLER_BROKER_DELIVERY: '{retry' }, { manifestsDir: '.', ingressUrl: 'http://x' }), /CONTROLLER_BROKER_DELIVERY must be JSON/);
});

test('the ingress bounds come from INGRESS_* variables and keep their checks across fields', () => {
  const config = loadSettings(START_SETTINGS.ingress, { INGRESS_MAX_BUFFERED_BYTES: '1000', INGRESS_REQUEST_TIMEOUT_MS: '2000', INGRESS_MAX_CONNECTIONS: '' }, {}) as Record<string, unknown>;
  assert.equal(config['maxBufferedBytes'], 1000);
  assert.equal(config['requestTimeoutMs'], 2000);
  assert.equal(config['headersTimeoutMs'], 2000, 'the headers timeout never outlasts the request timeout');
  assert.equal(config['maxConnections'], 4096, 'an empty variable keeps the default');
  assert.throws(() => loadSettings(START_SETTINGS.ingress, { INGRESS_HEADERS_TIMEOUT_MS: '5000', INGRESS_REQUEST_TIMEOUT_MS: '1000' }, {}), /INGRESS_HEADERS_TIMEOUT_MS: headersTimeoutMs must not be longer/);
});
