#!/usr/bin/env node
// The `kafka-broker` command. Runs the compiled CLI when `npm run build` has produced it, and
// otherwise the TypeScript sources through tsx, so that `npx kafka-broker` works right after `npm ci`.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/bin/cli.js', import.meta.url));
if (existsSync(compiled)) {
  await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./cli.ts');
}
