// The npm package as a platform team gets it: `npm pack` here, the tarball installed into an empty
// folder with runtime dependencies only, and the installed `kafka-broker` run from there: --help,
// then the quick start (start on the packaged example manifests, one event, one delivery).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startExampleSubscriber } from '../helpers/example-subscriber.js';
import { waitUntil } from '../helpers/wait.js';
import { ROOT, runCommand, TEST_STATE_HOME } from './start-cli.js';

const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

// What a release may contain; anything else (sources, tests, scripts, configs) must not ship.
const SHIPPED = [/^package\.json$/, /^README\.md$/, /^bin\/kafka-broker\.js$/, /^dist\/.+\.js$/, /^crds\/[^/]+\.yaml$/, /^deploy\/.+\.(yaml|env|json|md)$/, /^examples\//];

describe('the npm package', { timeout: 600_000 }, () => {
  let work: string;
  let tarball: string;
  let app: string;
  let installed: string;
  let bin: string;

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'kb-package-'));
    const packed = await runCommand('npm', ['pack', '--pack-destination', work, '--json'], { timeoutMs: 300_000 });
    assert.equal(packed.code, 0, packed.stderr);
    const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
    tarball = path.join(work, filename);
    app = path.join(work, 'app');
    await mkdir(app);
    await writeFile(path.join(app, 'package.json'), '{"private":true}\n');
    const install = await runCommand('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', tarball], { cwd: app, timeoutMs: 300_000 });
    assert.equal(install.code, 0, install.stderr);
    assert.doesNotMatch(install.stderr, /EBADENGINE/, 'every runtime dependency supports this Node');
    installed = path.join(app, 'node_modules', pkg.name);
    bin = path.join(app, 'node_modules', '.bin', 'kafka-broker');
  });
  after(() => rm(work, { recursive: true, force: true }));

  test('has the compiled JavaScript and the manifests, and no sources or tests', async () => {
    const listed = await runCommand('tar', ['tzf', tarball]);
    const files = listed.stdout.trim().split('\n').map((f) => f.replace(/^package\//, ''));
    for (const file of files) assert.ok(SHIPPED.some((allowed) => allowed.test(file)), `${file} should not be in the package`);
    for (const needed of ['dist/bin/cli.js', 'bin/kafka-broker.js', 'crds/triggers.yaml', 'examples/quickstart/broker.yaml', 'examples/subscriber.mjs']) {
      assert.ok(files.includes(needed), `the package has ${needed}`);
    }
    assert.ok(!files.some((f) => f.endsWith('.ts') || f.endsWith('.map')), 'no TypeScript sources or source maps');
  });

  test('installs only runtime dependencies', async () => {
    const modules = new Set(await readdir(path.join(app, 'node_modules')));
    for (const dependency of Object.keys(pkg.dependencies)) assert.ok(modules.has(dependency.split('/')[0]!), `${dependency} is installed`);
    for (const dependency of Object.keys(pkg.devDependencies)) {
      assert.ok(!modules.has(dependency) || dependency in pkg.dependencies, `the dev dependency ${dependency} is not installed`);
    }
  });

  test('`kafka-broker --help` and `--version` run from the install', async () => {
    const help = await runCommand(bin, ['--help'], { cwd: app });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: kafka-broker <command> \[options\]$/m);
    const version = await runCommand(bin, ['--version'], { cwd: app });
    assert.equal(version.stdout.trim(), pkg.version, version.stderr);
  });

  test('the quick start: start on the example manifests, one event, one delivery', async (t) => {
    // The subscriber first: the manifests name its port.
    const subscriber = await startExampleSubscriber(t, (port) => spawn(process.execPath, [path.join(installed, 'examples', 'subscriber.mjs'), String(port)], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] }));
    const manifests = path.join(work, 'quickstart');
    await cp(path.join(installed, 'examples', 'quickstart'), manifests, { recursive: true });
    for (const file of await readdir(manifests)) {
      const text = await readFile(path.join(manifests, file), 'utf8');
      await writeFile(path.join(manifests, file), text.replaceAll('127.0.0.1:8081', `127.0.0.1:${subscriber.port}`));
    }

    // Traces on, to a collector here: the OTLP export worker must start from the compiled dist/.
    const exported: Buffer[] = [];
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        exported.push(Buffer.concat(chunks));
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => collector.close(() => resolve())));
    const otlp = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;

    // In memory, as the quick start's first run: no Kafka address from the test run.
    const broker = background(t, bin, ['start', '--manifests', manifests, '--port', '0', '--admin-port', '0'], app, { KAFKA_BOOTSTRAP_SERVERS: '', OTEL_EXPORTER_OTLP_ENDPOINT: otlp });
    // Starting node on a busy CI machine takes far longer than the broker's own start (quickstart.test.ts allows 90 s).
    const [, ingressUrl, adminUrl] = await waitUntil(() => /kafka-broker: ingress (\S+)\s+admin (\S+)/.exec(broker.output()), {
      timeoutMs: 90_000,
      message: `the start-up line (output so far: ${broker.output()})`,
    });
    await waitUntil(async () => {
      const triggers = await runCommand(bin, ['get', 'triggers', '--server', adminUrl!], { cwd: app });
      const rows = triggers.stdout.trim().split('\n').slice(1);
      return triggers.code === 0 && rows.length > 0 && rows.every((row) => /\sTrue\s/.test(row));
    }, { timeoutMs: 60_000, intervalMs: 200, message: 'every trigger Ready' });

    const response = await fetch(`${ingressUrl}/default/default`, {
      method: 'POST',
      headers: {
        'ce-specversion': '1.0', 'ce-id': 'packaged-1', 'ce-source': '/shop', 'ce-type': 'com.example.order.created', 'ce-amount': '250',
        'content-type': 'application/json',
      },
      body: '{"order":42}',
    });
    assert.equal(response.status, 202);
    await waitUntil(() => /\/orders {2}type=com\.example\.order\.created source=\/shop id=packaged-1 /.test(subscriber.output()), {
      timeoutMs: 60_000,
      message: 'the delivery to /orders',
    });

    assert.equal(await broker.stop('SIGTERM'), 0, broker.output());
    // Stopping flushes the spans; protobuf keeps strings as they are, so the names are in the bytes.
    const spans = Buffer.concat(exported);
    for (const name of ['receive', 'append', 'filter', 'deliver']) assert.ok(spans.includes(name), `a ${name} span exported`);
  });
});

interface Background {
  output(): string;
  stop(signal: NodeJS.Signals): Promise<number | null>;
}

/** A long-running process, killed after the test if it is still there. */
function background(t: { after(fn: () => unknown): void }, command: string, args: string[], cwd: string, env: Record<string, string> = {}): Background {
  const child: ChildProcess = spawn(command, args, { cwd, env: { ...process.env, XDG_STATE_HOME: TEST_STATE_HOME, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const stop = async (signal: NodeJS.Signals): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  t.after(() => stop('SIGKILL'));
  return { output: () => output, stop };
}
