import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { HEAP_GROWING_PERCENT, heapGrowthFlag } from '../../../bin/heap-growth.js';

test('the heap growth flag is set unless node was given one', () => {
  const ours = `--heap-growing-percent=${HEAP_GROWING_PERCENT}`;
  const cases: [readonly string[], string | undefined][] = [
    [[], ours],
    [['--enable-source-maps', '--max-old-space-size=512'], ours],
    [['--heap-growing-percent=100'], undefined],
    [['--heap_growing_percent=20'], undefined],
    [['--heap-growing-percent'], undefined],
    // Another flag that merely starts alike is not the same one.
    [['--heap-growing-percentage=5'], ours],
  ];
  for (const [execArgv, expected] of cases) assert.equal(heapGrowthFlag(execArgv), expected, execArgv.join(' '));
  assert.equal(heapGrowthFlag([], '--enable-source-maps  --heap-growing-percent=0'), undefined, 'given in NODE_OPTIONS');
  assert.equal(heapGrowthFlag([], '--max-old-space-size=512'), ours, 'NODE_OPTIONS without it');
});

test('node accepts the flag at run time', () => {
  // V8 flags that do not exist are reported on stderr and ignored: none may be reported.
  const script = `const v8 = require('node:v8'); v8.setFlagsFromString('--heap-growing-percent=${HEAP_GROWING_PERCENT}'); console.log('set');`;
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  assert.equal(child.stderr, '');
  assert.equal(child.stdout.trim(), 'set');
});
