import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../../core/logger.js';

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { stream, text: () => text };
}

test('pretty: one readable line with the level as a word, local time, component, message and fields', async () => {
  const out = capture();
  const logger = createLogger({ format: 'pretty', destination: out.stream });
  logger.child({ component: 'controller' }).warn({ resource: 'Trigger/default/t' }, 'Trigger/default/t is not Ready');
  logger.debug('not shown at info');
  await new Promise((resolve) => setImmediate(resolve));
  const lines = out.text().trimEnd().split('\n');
  assert.equal(lines.length, 1, out.text());
  assert.match(lines[0]!, /^\[\d{2}:\d{2}:\d{2}\.\d{3}\] WARN: controller: Trigger\/default\/t is not Ready \{"resource":"Trigger\/default\/t"\}$/);
  assert.doesNotMatch(lines[0]!, /pid|hostname/, 'no pid or hostname');
  assert.ok(!lines[0]!.includes('\u001b['), 'no colour unless asked');
});

test('json (the default): one JSON object a line', async () => {
  const out = capture();
  const logger = createLogger({ destination: out.stream });
  logger.child({ component: 'dispatcher' }).info({ egresses: 2 }, 'dispatcher started');
  await new Promise((resolve) => setImmediate(resolve));
  const entry = JSON.parse(out.text().trim()) as Record<string, unknown>;
  assert.equal(entry['level'], 30);
  assert.equal(entry['component'], 'dispatcher');
  assert.equal(entry['msg'], 'dispatcher started');
  assert.equal(entry['egresses'], 2);
});
