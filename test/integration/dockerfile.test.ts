// The Dockerfile, checked without a container runtime (none can pull a base image on this
// machine: there is no access to an image registry). Each stage gets a scratch folder as its root;
// COPY takes the build context as .dockerignore leaves it, RUN runs the same shell commands in the
// stage's WORKDIR, and the final stage's ENTRYPOINT runs with the base image's node replaced by this
// one. An instruction this check does not know fails it, so the file cannot drift out of its reach.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import dockerignore from '@balena/dockerignore';
import { waitUntil } from '../helpers/wait.js';
import { ROOT, runCommand } from './start-cli.js';

interface Instruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}

/** Instructions with their arguments, comments dropped and `\` continuations joined. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) return;
    if (pending === '') startLine = index + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const whole = pending + line;
    pending = '';
    const match = /^(\S+)\s+(.*)$/.exec(whole);
    assert.ok(match, `Dockerfile line ${startLine}: cannot parse ${whole}`);
    out.push({ keyword: match[1]!.toUpperCase(), args: match[2]!, line: startLine });
  });
  return out;
}

interface Stage {
  readonly name: string | undefined;
  readonly image: string;
  readonly root: string;
  workdir: string;
  env: Record<string, string>;
  user: string | undefined;
  entrypoint: string[] | undefined;
  cmd: string[] | undefined;
}

/** The build context as `docker build .` sends it: every file .dockerignore does not exclude. */
async function contextFiles(ignoreFile: string): Promise<string[]> {
  const patterns = ignoreFile.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  // Pruning an excluded folder is only right without `!` exceptions; this file has none.
  assert.ok(!patterns.some((p) => p.startsWith('!')), '.dockerignore: exceptions (!) are not supported by this check');
  // A CommonJS module typed with `export default`: under NodeNext the function is `.default`.
  const ignore = dockerignore.default().add(patterns);
  const files: string[] = [];
  const walk = async (relative: string): Promise<void> => {
    for (const entry of await readdir(path.join(ROOT, relative), { withFileTypes: true })) {
      const child = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (ignore.ignores(child)) continue;
      if (entry.isDirectory()) await walk(child);
      else files.push(child);
    }
  };
  await walk('');
  return files;
}

function substitute(text: string, args: Record<string, string>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    assert.ok(Object.hasOwn(args, name), `the Dockerfile uses $${name}, which no ARG declares`);
    return args[name]!;
  });
}

describe('Dockerfile', { timeout: 600_000 }, () => {
  let scratch: string;
  const stages: Stage[] = [];
  const final = (): Stage => stages.at(-1)!;
  /** A path in the final image, as a path in its scratch root. */
  const inImage = (imagePath: string): string => path.join(final().root, imagePath);

  before(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'kb-dockerfile-'));
    const instructions = parseDockerfile(await readFile(path.join(ROOT, 'Dockerfile'), 'utf8'));
    const context = await contextFiles(await readFile(path.join(ROOT, '.dockerignore'), 'utf8'));
    const globalArgs: Record<string, string> = {};
    for (const { keyword, args, line } of instructions) {
      const where = `Dockerfile line ${line} (${keyword} ${args})`;
      const stage = stages.at(-1);
      if (keyword === 'FROM') {
        const [image, as, name, ...rest] = substitute(args, globalArgs).split(/\s+/);
        assert.ok(rest.length === 0 && (as === undefined || as.toUpperCase() === 'AS'), where);
        const root = path.join(scratch, `stage-${stages.length}`);
        await mkdir(root);
        stages.push({ name, image: image!, root, workdir: '/', env: {}, user: undefined, entrypoint: undefined, cmd: undefined });
        continue;
      }
      if (keyword === 'ARG') {
        const [name, value] = args.split('=', 2);
        assert.ok(stage === undefined && value !== undefined, `${where}: only ARGs with defaults before the first FROM`);
        globalArgs[name!] = value;
        continue;
      }
      assert.ok(stage, `${where}: before any FROM`);
      switch (keyword) {
        case 'WORKDIR':
          assert.ok(args.startsWith('/'), `${where}: an absolute WORKDIR`);
          stage.workdir = args;
          await mkdir(path.join(stage.root, args), { recursive: true });
          break;
        case 'COPY': {
          const words = args.split(/\s+/);
          const from = words[0]!.startsWith('--from=') ? words.shift()!.slice('--from='.length) : undefined;
          const dest = path.join(stage.root, path.posix.resolve(stage.workdir, words.pop()!));
          if (from !== undefined) {
            const source = stages.find((s) => s.name === from);
            assert.ok(source, `${where}: no stage named ${from}`);
            for (const src of words) await cp(path.join(source.root, src), dest, { recursive: true });
          } else {
            for (const src of words) {
              const files = src === '.' ? context : context.filter((f) => f === src);
              assert.ok(files.length > 0, `${where}: ${src} is not in the build context (see .dockerignore)`);
              for (const file of files) await cp(path.join(ROOT, file), src === '.' ? path.join(dest, file) : path.join(dest, path.basename(file)), { recursive: true });
            }
          }
          break;
        }
        case 'RUN': {
          // Paths outside WORKDIR would land on this machine's /, not in the stage's root.
          assert.doesNotMatch(args, /(^|[\s=])\/\w/, `${where}: use paths relative to WORKDIR`);
          const run = await runCommand('sh', ['-c', args], { cwd: path.join(stage.root, stage.workdir), env: stage.env, timeoutMs: 400_000 });
          assert.equal(run.code, 0, `${where} failed:\n${run.stderr.slice(-4000)}`);
          break;
        }
        case 'ENV': {
          const [name, value] = args.split('=', 2);
          assert.ok(value !== undefined, `${where}: ENV name=value`);
          stage.env[name!] = value;
          break;
        }
        case 'USER':
          stage.user = args;
          break;
        case 'EXPOSE':
          break;
        case 'ENTRYPOINT':
          stage.entrypoint = JSON.parse(args) as string[];
          break;
        case 'CMD':
          stage.cmd = JSON.parse(args) as string[];
          break;
        default:
          assert.fail(`${where}: this check does not know ${keyword}; teach it, or keep the Dockerfile to what it knows`);
      }
    }
  });
  after(() => rm(scratch, { recursive: true, force: true }));

  /** The final stage's ENTRYPOINT with `args`, its node replaced by this one and its paths mapped. */
  function entrypoint(args: readonly string[]): { command: string; args: string[]; cwd: string; env: Record<string, string> } {
    const [, ...rest] = final().entrypoint!;
    return {
      command: process.execPath,
      args: [...rest.map((arg) => (arg.startsWith('/') ? inImage(arg) : arg)), ...args],
      cwd: inImage(final().workdir),
      env: final().env,
    };
  }

  test('builds on Node 24 and runs as a non-root user, with an exec-form ENTRYPOINT on node itself', () => {
    assert.ok(stages.length >= 2, 'multi-stage');
    for (const stage of stages) assert.match(stage.image, /(^node:24\b|nodejs24)/, `${stage.image} is a Node 24 image`);
    const user = final().user;
    assert.ok(user !== undefined && !/^(root|0)(:|$)/.test(user), `USER ${user} is not root`);
    const [node] = final().entrypoint ?? [];
    // Exec form with node first: node is PID 1 and gets SIGTERM itself (no shell in between).
    assert.match(node ?? '', /\/node(js)?$|\/bin\/node$/);
  });

  test('the image runs `kafka-broker` (CMD: --help)', async () => {
    const run = entrypoint(final().cmd ?? []);
    const help = await runCommand(run.command, run.args, { cwd: run.cwd, env: run.env });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: kafka-broker <command> \[options\]$/m);
    // Only what the package installs: no sources, no dev dependencies.
    const modules = await readdir(inImage(path.posix.join(final().workdir, 'node_modules')));
    for (const dev of ['tsx', 'typescript', 'eslint']) assert.ok(!modules.includes(dev), `${dev} is not in the image`);
  });

  test('SIGTERM reaches the process, which shuts down cleanly', async () => {
    const examples = inImage(path.posix.join(final().workdir, 'node_modules/kafka-broker/examples/quickstart'));
    const run = entrypoint(['start', '--manifests', examples, '--port', '0', '--admin-port', '0']);
    const child = spawn(run.command, run.args, { cwd: run.cwd, env: { ...process.env, ...run.env, KAFKA_BOOTSTRAP_SERVERS: '', XDG_STATE_HOME: scratch }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitUntil(() => stderr.includes('kafka-broker: ingress'), { timeoutMs: 30_000, message: 'the start-up line' });
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      assert.match(stderr, /SIGTERM: shutting down/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
