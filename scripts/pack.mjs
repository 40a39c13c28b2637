// `npm pack`'s prepack and postpack steps (plain JavaScript: they run before anything is built).
//
//   node scripts/pack.mjs before   dist/ rebuilt from scratch (nothing stale or deleted ships)
//   node scripts/pack.mjs after    dist/ removed again: a checkout runs its sources, never a stale dist/
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const at = (relative) => new URL(relative, new URL('../', import.meta.url));
const clean = () => rmSync(at('dist/'), { recursive: true, force: true });

const step = process.argv[2];
if (step === 'before') {
  clean();
  execFileSync(process.execPath, [fileURLToPath(at('node_modules/typescript/bin/tsc')), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
} else if (step === 'after') {
  clean();
} else {
  console.error('usage: node scripts/pack.mjs before|after');
  process.exit(2);
}
