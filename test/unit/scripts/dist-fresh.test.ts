import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
// @ts-expect-error plain JavaScript without types: it runs before anything is compiled
import { distIsFresh, sources, STAMP } from '../../../scripts/dist-fresh.mjs';

const isFresh = distIsFresh as (root: string) => boolean;
const listSources = sources as (root: string) => { files: string[]; newest: number };

/** A checkout with two sources and a build stamp taken `stampAge` ms after their last change. */
function checkout(t: { after(fn: () => void): void }): { root: string; build: () => void; write: (file: string, at: number) => void } {
  const root = mkdtempSync(path.join(tmpdir(), 'kb-dist-fresh-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const write = (file: string, at: number): void => {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), 'export {};\n');
    utimesSync(path.join(root, file), at / 1000, at / 1000);
  };
  for (const dir of ['bin', 'core', 'broker-ingress', 'dispatcher', 'controller']) mkdirSync(path.join(root, dir), { recursive: true });
  write('core/a.ts', 1_000_000);
  write('dispatcher/deep/b.ts', 2_000_000);
  const build = (): void => {
    mkdirSync(path.join(root, 'dist'), { recursive: true });
    writeFileSync(path.join(root, STAMP as string), JSON.stringify({ startedAt: 3_000_000, files: listSources(root).files }));
  };
  return { root, build, write };
}

test('dist is fresh after a build, for the same sources unchanged since it began', (t) => {
  const { root, build } = checkout(t);
  assert.equal(isFresh(root), false, 'never built');
  build();
  assert.equal(isFresh(root), true);
});

test('a source changed after the build began makes dist stale', (t) => {
  const { root, build, write } = checkout(t);
  build();
  write('core/a.ts', 3_000_001);
  assert.equal(isFresh(root), false);
});

test('a source added or removed makes dist stale, even with an old modification time', (t) => {
  const { root, build, write } = checkout(t);
  build();
  write('controller/new.ts', 1_000);
  assert.equal(isFresh(root), false, 'added');
  rmSync(path.join(root, 'controller/new.ts'));
  assert.equal(isFresh(root), true, 'back to what was built');
  rmSync(path.join(root, 'core/a.ts'));
  assert.equal(isFresh(root), false, 'removed');
});

test('a stamp that cannot be read is not fresh', (t) => {
  const { root, build } = checkout(t);
  build();
  writeFileSync(path.join(root, STAMP as string), '{not json');
  assert.equal(isFresh(root), false);
});
