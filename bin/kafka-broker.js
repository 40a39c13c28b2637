#!/usr/bin/env node
// The `kafka-broker` command.
//  - In a checkout (bin/cli.ts is beside this file) it runs dist/ when dist/ was compiled from the
//    sources as they are (`npm ci` and `npm run build` compile it; scripts/dist-fresh.mjs), and
//    otherwise the TypeScript sources through tsx, so that it never runs a stale dist/. Compiled,
//    each process needs about 70 MB less memory and starts faster.
//  - In an installed package (`npm pack` ships dist/ and no sources) it runs the compiled CLI;
//    tsx is a dev dependency and is not there.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

// kafkajs schedules its throttle check at `throttledUntil - Date.now()` with throttledUntil -1: a
// negative timeout, run as 1 ms by every Node, which Node 24 also warns about on stderr. That one
// warning is dropped (it would break the CLI's one-line errors); every other is printed as before.
const [printWarning] = process.listeners('warning');
if (printWarning !== undefined) {
  process.off('warning', printWarning);
  process.on('warning', (warning) => {
    if (warning.name !== 'TimeoutNegativeWarning') printWarning(warning);
  });
}

const source = fileURLToPath(new URL('./cli.ts', import.meta.url));
const compiled = fileURLToPath(new URL('../dist/bin/cli.js', import.meta.url));

const checkout = existsSync(source);
const fresh = checkout && (await import('../scripts/dist-fresh.mjs')).distIsFresh(fileURLToPath(new URL('../', import.meta.url)));
if (checkout && !fresh) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(source).href);
} else if (existsSync(compiled)) {
  await import(pathToFileURL(compiled).href);
} else {
  console.error(`kafka-broker: neither ${source} nor ${compiled} exists; reinstall the package`);
  process.exit(1);
}
