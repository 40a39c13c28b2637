// Whether dist/ was compiled from the sources as they are now, so that a checkout can run it
// (bin/kafka-broker.js) instead of compiling every source at start-up through tsx, which costs
// about 70 MB of memory per process and seconds of CPU at each start. Plain JavaScript: it runs
// before anything is built.
//
// .dist-built.json (beside dist/, so that it never ships) records when the last build began and
// which sources it compiled; dist/ is fresh when the same sources exist and none has changed since.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** The folders tsconfig.build.json compiles. */
export const SOURCE_DIRS = ['bin', 'core', 'broker-ingress', 'dispatcher', 'controller'];
export const STAMP = '.dist-built.json';

/** The sources as sorted relative paths, and the newest modification time among them. */
export function sources(root) {
  const files = [];
  let newest = 0;
  const walk = (dir) => {
    for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const relative = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(relative);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        files.push(relative);
        newest = Math.max(newest, statSync(path.join(root, relative)).mtimeMs);
      }
    }
  };
  for (const dir of SOURCE_DIRS) walk(dir);
  return { files: files.sort(), newest };
}

export function distIsFresh(root) {
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(path.join(root, STAMP), 'utf8'));
  } catch {
    return false;
  }
  const now = sources(root);
  return typeof stamp?.startedAt === 'number' && now.newest <= stamp.startedAt
    && Array.isArray(stamp.files) && stamp.files.length === now.files.length && stamp.files.every((f, i) => f === now.files[i]);
}
