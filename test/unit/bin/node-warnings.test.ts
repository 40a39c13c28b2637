import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isKafkajsTimerWarning } from '../../../bin/node-warnings.js';

test('only a negative timer set from kafkajs is dropped', () => {
  const kafkajs = 'Error\n    at setTimeout (node:timers:125:19)\n    at RequestQueue.scheduleCheckPendingRequests (/app/node_modules/kafkajs/src/network/requestQueue/index.js:317:37)';
  const ours = 'Error\n    at setTimeout (node:timers:125:19)\n    at retry (/app/dist/core/retry.js:10:3)';
  assert.equal(isKafkajsTimerWarning('TimeoutNegativeWarning', kafkajs), true);
  assert.equal(isKafkajsTimerWarning('TimeoutNegativeWarning', ours), false);
  assert.equal(isKafkajsTimerWarning('TimeoutOverflowWarning', kafkajs), false);
  assert.equal(isKafkajsTimerWarning('TimeoutNegativeWarning', undefined), false);
});

test('installed, the filter drops that warning and lets the others through', () => {
  const module = fileURLToPath(new URL('../../../bin/node-warnings.ts', import.meta.url));
  // A file under a kafkajs folder stands in for kafkajs's request queue.
  const script = [
    `const { dropKafkajsTimerWarnings } = await import(${JSON.stringify(module)});`,
    'dropKafkajsTimerWarnings();',
    "const { mkdtempSync, mkdirSync, writeFileSync } = await import('node:fs');",
    "const dir = mkdtempSync('/tmp/kw-') + '/node_modules/kafkajs';",
    'mkdirSync(dir, { recursive: true });',
    "writeFileSync(dir + '/queue.mjs', 'export const arm = () => setTimeout(() => {}, -5);');",
    "(await import(dir + '/queue.mjs')).arm();",
    'setTimeout(() => {}, -7);',
    "process.emitWarning('still shown', 'OtherWarning');",
  ].join('\n');
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  // On Node 20 no timer warns at all; on 22+ ours (-7) does and kafkajs's (-5) does not.
  assert.doesNotMatch(child.stderr, /-5 is a negative number/);
  assert.match(child.stderr, /OtherWarning: still shown/);
});
