// `npm run build`, and npm's prepare (after `npm ci`) and prepack steps: compiles the sources into
// dist/ unless dist/ is already fresh (scripts/dist-fresh.mjs). A build starts from an empty dist/,
// so nothing stale or deleted is run or shipped.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { distIsFresh, sources, STAMP } from './dist-fresh.mjs';

const root = fileURLToPath(new URL('../', import.meta.url));
if (process.argv.includes('--force') || !distIsFresh(root)) {
  // Taken before compiling: a source saved while tsc runs makes the result stale, as it is.
  const startedAt = Date.now();
  const { files } = sources(root);
  rmSync(path.join(root, STAMP), { force: true });
  rmSync(path.join(root, 'dist'), { recursive: true, force: true });
  execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  writeFileSync(path.join(root, STAMP), `${JSON.stringify({ startedAt, files })}\n`);
}
