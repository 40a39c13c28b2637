import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { z } from 'zod';
import { bootstrapServersSchema, loadConfig, portSchema } from '../../../core/config.js';
import { BrokerError, errorCodes, errorKinds, toHttpBody } from '../../../core/errors.js';

const schema = z.object({ port: portSchema.default(8080), kafka: bootstrapServersSchema.optional() });

test('loadConfig returns a frozen typed object with defaults', () => {
  const config = loadConfig(schema, { kafka: 'a:9092, b:9093' });
  assert.deepEqual(config, { port: 8080, kafka: ['a:9092', 'b:9093'] });
  assert.ok(Object.isFrozen(config));
});

test('loadConfig names every bad value in one CONFIG_INVALID error', () => {
  assert.throws(() => loadConfig(schema, { port: 'eighty', kafka: 'nohost' }), (error: BrokerError) => {
    assert.equal(error.code, 'CONFIG_INVALID');
    assert.match(error.message, /port: Expected number/);
    assert.match(error.message, /kafka: expected host:port/);
    return true;
  });
});

test('error bodies have the shape { statusCode, code, error, message }', () => {
  const body = toHttpBody(new BrokerError('EVENT_INVALID', "attribute 'source' is required", { details: { attribute: 'source' } }));
  assert.deepEqual(body, { statusCode: 400, code: 'EVENT_INVALID', error: 'Bad Request', message: "attribute 'source' is required", details: { attribute: 'source' } });
});

test('the README lists exactly the registered error codes', () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Errors'));
  const listed = [...section.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]);
  assert.deepEqual(listed, errorCodes.map((code) => [code, errorKinds[code].status]));
});
