import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { assertCommands, docCommands, type DocCommands } from '../helpers/docs.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { onFreePorts } from '../helpers/ports.js';
import { uniqueName, waitUntil } from '../helpers/wait.js';
import { ROOT, runCommand, TEST_STATE_HOME } from './start-cli.js';

/**
 * Runs the commands of README.md's quick start in order, as a user types them, and checks that they
 * show what the page says. What a test cannot do verbatim is changed in one place, `adapt`:
 *  - ports: 8080 (ingress), 9090 (admin) and 8081 (subscriber) become free ports, since tests and
 *    people share this machine; the manifests are a copy of examples/quickstart with the
 *    subscriber's port changed, and `npm start` gets `--manifests <copy> --port --admin-port`;
 *  - on Kafka the namespace `default` becomes a unique one, so runs on a shared Kafka never meet;
 *  - `npm ci` is not run again (the test runs in the installed tree), and `npm run kafka` is the
 *    Kafka this test run already has (KAFKA_BOOTSTRAP_SERVERS, started by `npm test`).
 * The page's commands must be exactly the ones below: a new command needs a test here.
 */

const DOC = path.join(ROOT, 'README.md');

const EXPECTED_COMMANDS: readonly (string | RegExp)[] = [
  'npm ci && npm start',
  'node examples/subscriber.mjs',
  /^curl -i -X POST http:\/\/127\.0\.0\.1:8080\/default\/default /,
  'examples/send-event.sh structured',
  'examples/send-event.sh binary com.example.payment',
  'npx kafka-broker get brokers',
  'npx kafka-broker get triggers',
  'npx kafka-broker tail default/default -n 5',
  'npx kafka-broker triggers rewind default/orders --to earliest',
  'npm run kafka',
  /^export KAFKA_BOOTSTRAP_SERVERS=127\.0\.0\.1:\d+$/,
  'npm start',
];

async function readDoc(): Promise<DocCommands> {
  const readme = await readFile(DOC, 'utf8');
  // The quick start is README's section of that name, up to the next section.
  const start = readme.indexOf('## Quick start');
  return docCommands(readme.slice(start, readme.indexOf('\n## ', start + 1)));
}

/** A long-running command (`npm start`, the subscriber) in its own process group, stopped with the group. */
class Background {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  private readonly exited: Promise<number | null>;

  constructor(command: string, env: Record<string, string>) {
    this.child = spawn('sh', ['-c', command], { cwd: ROOT, env: { ...process.env, XDG_STATE_HOME: TEST_STATE_HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child.stdout!.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  async waitFor(pattern: RegExp, timeoutMs: number, what: string): Promise<RegExpExecArray> {
    return this.until(() => pattern.exec(this.stdout + this.stderr) ?? undefined, timeoutMs, what);
  }

  /**
   * Polls `check` until it gives a value; fails at once if the command exits first (waitUntil
   * would keep polling a dead process until its deadline), with what it printed on stderr.
   */
  async until<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      if (this.child.exitCode !== null) throw new Error(`${what}: the command exited with ${this.child.exitCode}:\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(50);
    }
  }

  /**
   * Ctrl-C: the signal to the whole group (sh, npm, node), as a terminal sends it; resolves once
   * every process of the group is gone (npm exits at once, node after its graceful shutdown).
   */
  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<void> {
    const group = -this.child.pid!;
    const alive = (): boolean => {
      try {
        process.kill(group, 0);
        return true;
      } catch {
        return false;
      }
    };
    if (alive()) process.kill(group, signal);
    await this.exited;
    try {
      await waitUntil(() => !alive(), { timeoutMs: 30_000, intervalMs: 50, message: 'the process group to exit' });
    } finally {
      if (alive()) process.kill(group, 'SIGKILL');
    }
  }
}

const kafkaServers = process.env['KAFKA_BOOTSTRAP_SERVERS'];

describe("README's quick start, command by command", { timeout: 600_000 }, () => {
  test('the page lists exactly the commands this test runs', async () => {
    const { commands } = await readDoc();
    assertCommands(commands, EXPECTED_COMMANDS);
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    // The test runs `npm start` with flags appended; that is only the same if the script is this.
    assert.equal(pkg.scripts['start'], 'node bin/kafka-broker.js start --manifests examples/quickstart');
  });

  for (const variant of ['memory', 'kafka'] as const) {
    test(`steps 1 to 4, on ${variant === 'memory' ? 'the in-memory log' : 'Kafka'}`, async (t) => {
      if (variant === 'kafka' && !kafkaServers) throw new Error('KAFKA_BOOTSTRAP_SERVERS is not set: run with `npm test`, or start Kafka with `npm run kafka`');
      // In memory too each `get` is a node process, seconds apiece on a busy CI machine.
      const timeoutMs = variant === 'kafka' ? 90_000 : 60_000;
      // Starting npm and then node on a busy machine takes far longer than the in-memory broker's work.
      const startUpMs = 90_000;
      const { commands, outputs } = await readDoc();
      const ns = variant === 'kafka' ? uniqueName('quickstart') : 'default';
      // Each program is started on ports free a moment ago, and again on others if one was taken meanwhile.
      let [ingressPort, adminPort, subscriberPort] = [0, 0, 0];
      const adapt = (text: string): string =>
        text
          .replaceAll('127.0.0.1:8080', `127.0.0.1:${ingressPort}`)
          .replaceAll('127.0.0.1:9090', `127.0.0.1:${adminPort}`)
          .replaceAll('127.0.0.1:8081', `127.0.0.1:${subscriberPort}`)
          .replaceAll('/default/default', `/${ns}/default`)
          .replaceAll('~/.local/state/', `${TEST_STATE_HOME}/`);

      // 2. node examples/subscriber.mjs: first here, since the manifests name its port.
      const subscriber = await onFreePorts(1, async ([port]) => {
        const started = new Background(commands[1]!, { PORT: String(port) });
        try {
          // A node process starting on a busy machine took more than 10 s once (channels-example.test.ts).
          await started.waitFor(/subscriber listening/, 30_000, 'the subscriber');
        } catch (error) {
          await started.stop('SIGTERM');
          throw error;
        }
        subscriberPort = port!;
        return started;
      });
      t.after(() => subscriber.stop('SIGTERM'));

      // The manifests, with the subscriber's port (and on Kafka the namespace) changed.
      const manifests = await mkdtemp(path.join(tmpdir(), 'kb-quickstart-'));
      t.after(() => rm(manifests, { recursive: true, force: true }));
      await cp(path.join(ROOT, 'examples', 'quickstart'), manifests, { recursive: true });
      for (const file of await readdir(manifests)) {
        const text = await readFile(path.join(manifests, file), 'utf8');
        await writeFile(path.join(manifests, file), adapt(text).replaceAll('namespace: default', `namespace: ${ns}`));
      }

      // 1. npm ci && npm start  (on Kafka: npm run kafka; export KAFKA_BOOTSTRAP_SERVERS=...; npm start)
      let startCommand: string;
      let kafkaAddress = '';
      if (variant === 'memory') {
        assert.equal(commands[0], 'npm ci && npm start');
        startCommand = 'npm start';
      } else {
        assert.equal(commands[9], 'npm run kafka');
        kafkaAddress = kafkaServers!;
        startCommand = commands[11]!;
      }
      const environment = () => ({ BROKER_URL: `http://127.0.0.1:${ingressPort}/${ns}/default`, KAFKA_BROKER_ADMIN_URL: `http://127.0.0.1:${adminPort}`, KAFKA_BOOTSTRAP_SERVERS: kafkaAddress });
      const broker = await onFreePorts(2, async ([ingress, admin]) => {
        [ingressPort, adminPort] = [ingress!, admin!];
        const started = new Background(`${startCommand} -- --manifests ${manifests} --port ${ingressPort} --admin-port ${adminPort}`, environment());
        try {
          if (variant === 'memory') {
            // The banner and the summary, as the page shows them; log lines (JSON here: stderr is a pipe) may come between.
            const startLine = adapt(outputs[0]!.trimEnd());
            await started.until(() => started.stderr.split('\n').filter((line) => !line.startsWith('{')).join('\n').includes(startLine) || undefined, startUpMs, `the start-up lines the page shows:\n${startLine}`);
          } else {
            await started.waitFor(new RegExp(`kafka-broker: ingress http://127\\.0\\.0\\.1:${ingressPort}\\s+admin http://127\\.0\\.0\\.1:${adminPort}\\s+Kafka at ${escape(kafkaAddress)}`), startUpMs, 'the start-up line on Kafka');
          }
        } catch (error) {
          await started.stop('SIGTERM');
          throw error;
        }
        return started;
      });
      t.after(() => broker.stop('SIGTERM'));
      const env = environment();
      const brokerUrl = env.BROKER_URL;

      // Ready means Ready: once `get triggers` says so, every event accepted reaches the triggers.
      await waitUntil(async () => {
        const result = await runCommand('sh', ['-c', commands[6]!], { env: { ...env, KAFKA_BROKER_ADMIN_URL: env.KAFKA_BROKER_ADMIN_URL } });
        return result.code === 0 && result.stdout.trim().split('\n').slice(1).every((row) => /\sTrue\s/.test(row));
      }, { timeoutMs, intervalMs: 200, message: 'every trigger Ready' });

      // 3. curl: 202, and the four lines the page shows (timestamps aside).
      const curl = await runCommand('sh', ['-c', adapt(commands[2]!)], { env });
      assert.equal(curl.code, 0, curl.stderr);
      assert.match(curl.stdout, /^HTTP\/1\.1 202 Accepted/);
      const shown = adapt(outputs[1]!).trim().split('\n').map((line) => line.replace(/^\S+ /, ''));
      assert.equal(shown.length, 4);
      await waitUntil(() => shown.every((line) => subscriber.stdout.includes(line)), { timeoutMs, message: `the subscriber printing:\n${shown.join('\n')}` });

      //    examples/send-event.sh structured; examples/send-event.sh binary com.example.payment
      const structured = await runCommand('sh', ['-c', commands[3]!], { env });
      assert.equal(structured.stdout.trim(), 'HTTP 202', structured.stderr);
      await waitUntil(() => /\/big-orders {2}type=com\.example\.order\.created source=\/shop id=\d+-\d+ .*amount=250/.test(subscriber.stdout), { timeoutMs, message: 'the structured event' });
      const payment = await runCommand('sh', ['-c', commands[4]!], { env });
      assert.equal(payment.stdout.trim(), 'HTTP 202', payment.stderr);
      await waitUntil(() => /\/dead-letters {2}type=com\.example\.payment .*knativeerrorcode=500/.test(subscriber.stdout), { timeoutMs, message: 'the dead letter' });
      assert.equal(subscriber.stdout.match(/\/fail\/payments .*answered 500/g)?.length, 3, 'three attempts, then the dead-letter sink');

      // 4. npx kafka-broker get brokers / triggers
      const brokers = await runCommand('sh', ['-c', commands[5]!], { env });
      assert.equal(brokers.code, 0, brokers.stderr);
      assert.match(brokers.stdout, new RegExp(`^NAMESPACE\\s+NAME\\s+READY\\s+REASON\\s+URL\\s+AGE\\n${ns}\\s+default\\s+True\\s+${escape(brokerUrl)}\\s+\\d[\\dsmhdy]*\\n$`));
      const triggers = await runCommand('sh', ['-c', commands[6]!], { env });
      const [header, ...rows] = triggers.stdout.trimEnd().split('\n');
      assert.equal(header!.replace(/\s+/g, ' '), adapt(outputs[2]!).split('\n')[0]!.replace(/\s+/g, ' '));
      assert.deepEqual(rows.map((r) => r.split(/\s+/).slice(1, 4).join(' ')).sort(), [
        'big-orders default True', 'not-tests default True', 'order-events default True', 'orders default True', 'payments default True', 'png-uploads default True',
      ]);
      for (const shownRow of adapt(outputs[2]!).split('\n').slice(1, 3)) {
        const [, name, , , uri] = shownRow.split(/\s+/);
        assert.ok(rows.some((r) => r.includes(` ${name} `) && r.includes(uri!)), `the page's row for ${name}`);
      }

      // 5. npx kafka-broker tail default/default -n 5: the last events, then new ones as they come; Ctrl-C ends it.
      const tail = new Background(adapt(commands[7]!).replace('default/default', `${ns}/default`), env);
      t.after(() => tail.stop('SIGINT'));
      await tail.waitFor(/com\.example\.order\.created {2}source=\/shop {2}id=order-1 {2}\[\d+\/\d+\]\n {2}(.* )?amount=250\b.*\n {2}data: \{/, timeoutMs, 'tail showing order-1')
        .catch((error: unknown) => assert.fail(`${(error as Error).message}; tail printed:\n${tail.stdout}${tail.stderr}`));
      const live = await runCommand('sh', ['-c', adapt(commands[2]!).replace("ce-id: order-1", "ce-id: order-live")], { env });
      assert.match(live.stdout, /^HTTP\/1\.1 202 Accepted/);
      await tail.waitFor(/id=order-live/, timeoutMs, 'tail showing an event sent after it started');
      await tail.stop('SIGINT');
      // npx and sh take the signal too (their exit status is theirs); tail itself prints nothing on Ctrl-C.
      assert.equal(tail.stderr.trim(), '', 'tail ends cleanly on Ctrl-C');

      //    npx kafka-broker triggers rewind default/orders --to earliest: /orders gets its events again, marked.
      const rewind = await runCommand('sh', ['-c', commands[8]!.replace('default/orders', `${ns}/orders`)], { env });
      assert.equal(rewind.code, 0, rewind.stderr);
      assert.match(rewind.stdout, new RegExp(`${ns}/orders rewound to earliest: \\d+ events? re-delivered, 0 skipped`));
      await waitUntil(() => /\/orders {2}type=com\.example\.order\.created source=\/shop id=order-1 .*knativereplay=true/.test(subscriber.stdout), { timeoutMs, message: 'order-1 delivered again to /orders, marked as a replay' });
      assert.doesNotMatch(subscriber.stdout, /\/(big-orders|not-tests|order-events) .*knativereplay/, 'no other trigger sees the replay');
      const described = await runCommand(process.execPath, [path.join(ROOT, 'bin', 'kafka-broker.js'), 'describe', 'trigger', `${ns}/orders`], { env });
      assert.match(described.stdout, /Rewinds: {2}1\n.*\n.*rewind/, described.stdout + described.stderr);

      if (variant === 'kafka') {
        // Leave the shared Kafka as we found it: the broker deletes its topic when it goes.
        for (const file of await readdir(manifests)) await rm(path.join(manifests, file));
        await waitUntil(async () => (await runCommand('sh', ['-c', commands[5]!], { env })).stderr.includes('No brokers found'), { timeoutMs, message: 'the broker gone' });
      }
      await broker.stop('SIGINT');
      assert.match(broker.stderr, /kafka-broker: SIGINT: shutting down/, 'Ctrl-C stops it gracefully');
      assert.doesNotMatch(broker.stderr, /"level":50/, 'no error was logged');
    });
  }
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
