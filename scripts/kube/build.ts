// Builds the kube-apiserver and etcd binaries the Kubernetes-mode tests run (and kustomize, which
// renders deploy/), from the Go modules beside this file (apiserver/, etcd/, kustomize/), into a
// cache under node_modules/.cache so that only the first run pays for the build.
// KUBE_APISERVER_BIN, ETCD_BIN and KUSTOMIZE_BIN point at existing binaries instead.
//
//   node_modules/.cache/kafka-broker/kube/
//     kube-apiserver-v1.37.2-<inputs hash>/kube-apiserver
//     etcd-v3.7.3-<inputs hash>/etcd
//     kustomize-v5.8.2-<inputs hash>/kustomize
//     build.lock/            held while a build runs (owner pid inside), so that parallel test
//                            files wait for one build instead of each starting their own
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { access, constants, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export interface KubeBinaries {
  readonly kubeApiServer: string;
  readonly etcd: string;
}

export interface EnsureKubeBinariesOptions {
  /** Where KUBE_APISERVER_BIN, ETCD_BIN, GOMAXPROCS and PATH are read from. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly onProgress?: (line: string) => void;
  /** Root of the binary cache; defaults to node_modules/.cache/kafka-broker/kube in the repository. */
  readonly cacheDir?: string;
}

/** A failure worth one line to the user (plus the tail of the go command's output). */
export class KubeBuildError extends Error {
  override name = 'KubeBuildError';
}

const KUBE_DIR = fileURLToPath(new URL('./', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DEFAULT_CACHE_DIR = join(REPO_ROOT, 'node_modules', '.cache', 'kafka-broker', 'kube');

/** A Go program built from a module folder into the cache (also used by scripts/toxiproxy). */
export interface BinarySpec {
  readonly name: string;
  readonly envVar: string;
  readonly moduleDir: string;
  /** Files whose content decides the binary; a change to any of them makes a new cache entry. */
  readonly inputs: readonly string[];
  /** The module (in go.mod's require) whose version names the cache entry. */
  readonly versionOf: string;
  readonly buildTarget: (version: string) => string;
  readonly ldflags: (version: string) => string[];
}

const COMPONENT_VERSION = 'k8s.io/component-base/version';

const SPECS: readonly BinarySpec[] = [
  {
    name: 'kube-apiserver',
    envVar: 'KUBE_APISERVER_BIN',
    moduleDir: join(KUBE_DIR, 'apiserver'),
    inputs: ['go.mod', 'go.sum'],
    versionOf: 'k8s.io/kubernetes',
    buildTarget: () => 'k8s.io/kubernetes/cmd/kube-apiserver',
    // What Kubernetes' own build stamps in, so /version answers v1.X.Y rather than v0.0.0-master.
    ldflags: (version) => {
      const [major, minor] = version.replace(/^v/, '').split('.');
      return [
        `-X ${COMPONENT_VERSION}.gitVersion=${version}`,
        `-X ${COMPONENT_VERSION}.gitMajor=${major ?? ''}`,
        `-X ${COMPONENT_VERSION}.gitMinor=${minor ?? ''}`,
        `-X ${COMPONENT_VERSION}.gitTreeState=clean`,
      ];
    },
  },
  {
    name: 'etcd',
    envVar: 'ETCD_BIN',
    moduleDir: join(KUBE_DIR, 'etcd'),
    inputs: ['go.mod', 'go.sum', 'main.go'],
    versionOf: 'go.etcd.io/etcd/server/v3',
    buildTarget: () => '.',
    ldflags: () => [],
  },
];

const KUSTOMIZE: BinarySpec = {
  name: 'kustomize',
  envVar: 'KUSTOMIZE_BIN',
  moduleDir: join(KUBE_DIR, 'kustomize'),
  inputs: ['go.mod', 'go.sum'],
  versionOf: 'sigs.k8s.io/kustomize/kustomize/v5',
  buildTarget: () => 'sigs.k8s.io/kustomize/kustomize/v5',
  // So that `kustomize version` names the release rather than (devel).
  ldflags: (version) => [`-X sigs.k8s.io/kustomize/api/provenance.version=kustomize/${version}`],
};

/** Bumped when the build command below changes in a way that changes the binaries. */
const BUILD_RECIPE = '1';
const PROGRESS_INTERVAL_MS = 15_000;
const LOCK_POLL_MS = 1_000;
const OUTPUT_TAIL_LINES = 25;

/**
 * The binaries to run: those named by KUBE_APISERVER_BIN / ETCD_BIN, else the cached builds,
 * building whatever is missing (a cold kube-apiserver build takes many minutes on 2 cores).
 */
export async function ensureKubeBinaries(options: EnsureKubeBinariesOptions): Promise<KubeBinaries> {
  const progress = options.onProgress ?? (() => {});
  const cacheDir = options.cacheDir ?? DEFAULT_CACHE_DIR;
  const paths: Record<string, string> = {};
  for (const spec of SPECS) {
    const fromEnv = options.env[spec.envVar];
    if (fromEnv) {
      await assertExecutable(fromEnv, `${spec.envVar}=${fromEnv}`);
      paths[spec.name] = fromEnv;
      continue;
    }
    paths[spec.name] = await ensureBuilt(spec, cacheDir, options.env, progress);
  }
  return { kubeApiServer: paths['kube-apiserver'] as string, etcd: paths['etcd'] as string };
}

/** The kustomize binary (KUSTOMIZE_BIN, else the cached build, built if missing: ~1 min cold). */
export async function ensureKustomize(options: EnsureKubeBinariesOptions): Promise<string> {
  const fromEnv = options.env[KUSTOMIZE.envVar];
  if (fromEnv) {
    await assertExecutable(fromEnv, `${KUSTOMIZE.envVar}=${fromEnv}`);
    return fromEnv;
  }
  return ensureBuilt(KUSTOMIZE, options.cacheDir ?? DEFAULT_CACHE_DIR, options.env, options.onProgress ?? (() => {}));
}

/** Where the cached binaries live (built or not), e.g. to print them or to point CI caches at. */
export async function cachedBinaryPaths(cacheDir = DEFAULT_CACHE_DIR): Promise<KubeBinaries> {
  const [apiserver, etcd] = await Promise.all(SPECS.map(async (spec) => join(cacheDir, await cacheEntryName(spec), spec.name)));
  return { kubeApiServer: apiserver as string, etcd: etcd as string };
}

/** The cached build of `spec`, building it (under the cache's lock) when missing. */
export async function ensureBuilt(spec: BinarySpec, cacheDir: string, env: EnsureKubeBinariesOptions['env'], progress: (line: string) => void): Promise<string> {
  const entryDir = join(cacheDir, await cacheEntryName(spec));
  const binary = join(entryDir, spec.name);
  if (existsSync(binary)) return binary;

  await mkdir(cacheDir, { recursive: true });
  const release = await acquireLock(join(cacheDir, 'build.lock'), progress);
  try {
    // Another process may have built it while we waited for the lock.
    if (existsSync(binary)) return binary;
    await mkdir(entryDir, { recursive: true });
    const version = await requiredVersion(spec);
    const partial = `${binary}.partial-${process.pid}`;
    const started = Date.now();
    progress(`building ${spec.name} ${version} from ${spec.moduleDir} (once; cached in ${entryDir})`);
    await goBuild(spec, version, partial, env, progress);
    await rename(partial, binary); // atomic: a binary in the cache is always complete
    progress(`built ${spec.name} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return binary;
  } finally {
    await release();
  }
}

async function goBuild(spec: BinarySpec, version: string, output: string, env: EnsureKubeBinariesOptions['env'], progress: (line: string) => void): Promise<void> {
  const goArgs = [
    'build',
    '-mod=readonly', // go.sum is committed: a build never edits go.mod/go.sum
    '-trimpath',
    '-buildvcs=false',
    '-v', // one line per package compiled: counted for the progress lines
    '-ldflags', ['-s', '-w', ...spec.ldflags(version)].join(' '),
    '-o', output,
    spec.buildTarget(version),
  ];
  const childEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) childEnv[key] = value;
  Object.assign(childEnv, {
    CGO_ENABLED: '0', // static binaries, no C toolchain needed
    // Never fetch a newer Go toolchain: a too-old Go should fail with a clear message instead.
    GOTOOLCHAIN: 'local',
    GOMAXPROCS: env['GOMAXPROCS'] ?? String(availableParallelism()),
  });
  // Lowest CPU priority: the build must not starve tests and other work on a shared machine.
  const [command, args] = (await onPath('nice', env)) ? ['nice', ['-n', '19', 'go', ...goArgs]] : ['go', goArgs];

  const tail: string[] = [];
  let packages = 0;
  let downloads = 0;
  const started = Date.now();
  const timer = setInterval(() => {
    const fetched = downloads > 0 ? `${downloads} modules downloaded, ` : '';
    progress(`  still building ${spec.name}: ${fetched}${packages} packages compiled, ${Math.round((Date.now() - started) / 1000)} s`);
  }, PROGRESS_INTERVAL_MS);
  try {
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(command as string, args as string[], { cwd: spec.moduleDir, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
      const onLine = (line: string): void => {
        tail.push(line);
        if (tail.length > OUTPUT_TAIL_LINES) tail.shift();
        if (line.startsWith('go: downloading')) {
          if (downloads++ === 0) progress('  downloading Go modules through the module proxy (GOPROXY)');
        } else if (!line.startsWith('go: ') && !line.startsWith('#')) packages++;
      };
      createInterface({ input: child.stdout }).on('line', onLine);
      createInterface({ input: child.stderr }).on('line', onLine);
      child.on('error', (error: NodeJS.ErrnoException) =>
        reject(error.code === 'ENOENT' ? new KubeBuildError(`cannot build ${spec.name}: the go command is not on PATH (Go 1.26+ is needed), or set ${spec.envVar}`) : error),
      );
      child.on('close', (exitCode, signal) => resolve(exitCode ?? (signal ? 128 : 1)));
    });
    if (code !== 0) {
      await rm(output, { force: true });
      throw new KubeBuildError(`go build of ${spec.name} failed (exit ${code}) in ${spec.moduleDir}:\n${tail.join('\n')}`);
    }
  } finally {
    clearInterval(timer);
  }
}

/** `<binary>-<version>-<hash of the inputs>`: a new entry whenever go.mod, go.sum or the recipe change. */
async function cacheEntryName(spec: BinarySpec): Promise<string> {
  const hash = createHash('sha256').update(`recipe ${BUILD_RECIPE}\n`);
  for (const input of spec.inputs) {
    hash.update(`${input}\n`).update(await readFile(join(spec.moduleDir, input)));
  }
  return `${spec.name}-${await requiredVersion(spec)}-${hash.digest('hex').slice(0, 12)}`;
}

async function requiredVersion(spec: BinarySpec): Promise<string> {
  const goMod = await readFile(join(spec.moduleDir, 'go.mod'), 'utf8');
  const escaped = spec.versionOf.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const match = new RegExp(`^\\s*(?:require\\s+)?${escaped}\\s+(v\\S+)`, 'm').exec(goMod);
  if (!match?.[1]) throw new KubeBuildError(`${spec.moduleDir}/go.mod does not require ${spec.versionOf}`);
  return match[1];
}

/**
 * A directory lock (mkdir is atomic) holding the owner's pid. A lock whose owner has died (a
 * test run killed mid-build) is taken over rather than waited on forever.
 */
async function acquireLock(lockDir: string, progress: (line: string) => void): Promise<() => Promise<void>> {
  const ownerFile = join(lockDir, 'owner.pid');
  let announced = false;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(ownerFile, `${process.pid}\n`);
      return () => rm(lockDir, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number.parseInt(await readFile(ownerFile, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(owner) && !isAlive(owner)) {
      progress(`taking over the build lock of pid ${owner}, which is gone`);
      await rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (!announced && Number.isInteger(owner)) {
      progress(`waiting for the build running in pid ${owner}`);
      announced = true;
    }
    await sleep(LOCK_POLL_MS);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function assertExecutable(path: string, what: string): Promise<void> {
  try {
    await access(path, constants.X_OK);
  } catch {
    throw new KubeBuildError(`${what}: not an executable file`);
  }
}

async function onPath(command: string, env: EnsureKubeBinariesOptions['env']): Promise<boolean> {
  for (const dir of (env['PATH'] ?? '').split(':')) {
    if (!dir) continue;
    try {
      await access(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}
