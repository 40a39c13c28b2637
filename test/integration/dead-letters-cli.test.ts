import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DeadLetterList } from '../../dispatcher/dead-letters/index.js';
import { waitUntil } from '../helpers/wait.js';
import { deadLetterWorld, logKinds, type DeadLetterWorld } from './dead-letters-world.js';
import { runCli, type KnList } from './start-cli.js';

/**
 * `kafka-broker dead-letters list|show|replay` end to end, as an operator runs it against
 * `kafka-broker start`, once on the in-memory log and once on Kafka: a trigger whose subscriber
 * fails dead-letters into a KafkaSink; the CLI finds it, shows it, and replays it once the
 * subscriber is fixed. See dead-letters-world.ts for the scene.
 */

for (const kind of logKinds) {
  describe(`dead letters through the CLI on the ${kind.name} log`, { timeout: 600_000 }, () => {
    let w: DeadLetterWorld;
    const id = `${kind.name}-payment-1`;
    const teardown: (() => unknown)[] = [];
    after(async () => {
      for (const fn of teardown.reverse()) await fn();
    });

    before(async () => {
      w = await deadLetterWorld({ after: (fn) => void teardown.push(fn) }, kind);
    });

    test('a KafkaSink is Ready with its address under /sinks, and get kafkasinks shows it', async () => {
      const list = JSON.parse((await w.broker.get('kafkasinks', '-n', w.ns, '-o', 'json')).stdout) as KnList;
      const dls = list.items.find((i) => i.metadata.name === 'dls')!;
      assert.equal(dls.status?.address?.url, `${w.broker.ingressUrl}/sinks/${w.ns}/dls`);
      assert.deepEqual(dls.status?.conditions?.map((c) => c.type), ['Addressable', 'DataPlaneAvailable', 'Ready', 'TopicReady']);
      const table = await w.broker.get('kafkasinks', '-n', w.ns);
      assert.equal(table.code, 0);
      assert.match(table.stdout, /^NAME\s+TOPIC\s+READY\s+REASON\s+URL\s+AGE\n/);
      assert.match(table.stdout, new RegExp(`\\ndls\\s+${w.ns}-dls\\s+True\\s+http://127\\.0\\.0\\.1:\\d+/sinks/${w.ns}/dls\\s+\\d+s\\n`));
      const triggers = JSON.parse((await w.broker.get('triggers', '-n', w.ns, '-o', 'json')).stdout) as { items: { status?: { deadLetterSinkUri?: string } }[] };
      assert.equal(triggers.items[0]?.status?.deadLetterSinkUri, `${w.broker.ingressUrl}/sinks/${w.ns}/dls`);
    });

    test('list on an empty sink says so', async () => {
      const result = await w.deadLetters('list', '--sink', `${w.ns}/empty`);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, '');
      assert.equal(result.stderr, `No dead letters found in sink ${w.ns}/empty.\n`);
    });

    test('a failing subscriber dead-letters into the KafkaSink; list shows the event with its destination and code', async () => {
      await w.send(id);
      const list = await waitUntil(async () => {
        const result = await w.deadLetters('list', '--sink', `${w.ns}/dls`, '-o', 'json');
        const parsed = JSON.parse(result.stdout) as DeadLetterList;
        return parsed.items.length > 0 ? parsed : undefined;
      }, { ...w.wait, message: 'the dead letter listed' });
      assert.equal(list.items.length, 1);
      const [item] = list.items;
      assert.equal(item!.id, id);
      assert.equal(item!.errorDest, `${w.subscriber.url}/pay`);
      assert.equal(item!.errorCode, 500);
      assert.deepEqual(item!.failedFor, { kind: 'Trigger', namespace: w.ns, name: 'payments' });
      assert.equal(item!.broker, `${w.ns}/default`);
      assert.equal(w.received().length, 2, '1 attempt + 1 retry before the dead-letter sink');

      const table = await w.deadLetters('list', '--trigger', `${w.ns}/payments`);
      assert.equal(table.code, 0, table.stderr);
      const [header, row, ...rest] = table.stdout.trimEnd().split('\n');
      assert.match(header!, /^ID\s+TYPE\s+SOURCE\s+FAILED FOR\s+DESTINATION\s+CODE\s+DEAD-LETTERED\s+REPLAYED$/);
      assert.deepEqual(rest, []);
      const cells = row!.split(/\s{3,}/);
      assert.deepEqual(cells.slice(0, 6), [id, 'com.example.payment', '/shop', `trigger/${w.ns}/payments`, `${w.subscriber.url}/pay`, '500']);
      assert.match(cells[6]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const other = await w.deadLetters('list', '--type', 'com.example.other');
      assert.match(other.stderr, /^No dead letters found in 2 sinks\.\n$/);
    });

    test('show shows the whole event, its data and the decoded error body', async () => {
      const result = await w.deadLetters('show', id);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`^ID:\\s+${id}\\n`));
      assert.match(result.stdout, new RegExp(`\\nFailed for:\\s+Trigger ${w.ns}/payments\\n`));
      assert.match(result.stdout, /\nCode:\s+500\n/);
      assert.match(result.stdout, /\n {2}knativeerrordest:\s+http:\/\/127\.0\.0\.1:\d+\/pay\n/);
      assert.match(result.stdout, /\nData \(\d+ bytes\):\n {2}\{"order":".*","amount":42\}\n/);
      assert.match(result.stdout, /\nError response \(knativeerrordata, 29 bytes\):\n {2}\{"error":"payments are down"\}\n/);
      const json = JSON.parse((await w.deadLetters('show', id, '-o', 'json')).stdout) as { data: { encoding: string; value: string }; errorData: { value: string } };
      assert.deepEqual(JSON.parse(json.data.value), { order: id, amount: 42 });
      assert.equal(json.errorData.value, '{"error":"payments are down"}');
    });

    test('describe trigger shows its dead-letter sink and its latest dead letters', async () => {
      const result = await runCli(['describe', 'trigger', `${w.ns}/payments`, '--server', w.broker.adminUrl]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`\\nDead Letter Sink:\\s+KafkaSink ${w.ns}/dls → http://127\\.0\\.0\\.1:\\d+/sinks/${w.ns}/dls\\n`));
      assert.match(result.stdout, new RegExp(`\\nDead Letters:\\s+1\\n\\s+ID\\s+TYPE\\s+CODE\\s+DEAD-LETTERED\\s+DESTINATION\\n\\s+${id}\\s+\\S+\\s+500\\s`));
    });

    test('a bad id is a one-line error and exit code 1', async () => {
      const result = await w.deadLetters('show', 'no-such-event');
      assert.equal(result.code, 1);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /^kafka-broker dead-letters: no dead letter with id "no-such-event" \(searched .*\)\n$/);
      const replay = await w.deadLetters('replay', 'no-such-event');
      assert.equal(replay.code, 1);
      assert.equal(replay.stderr.split('\n').length, 2, replay.stderr);
    });

    test('mistakes on the command line are one-line errors too', async () => {
      const cases: [string[], RegExp][] = [
        [['replay'], /^kafka-broker dead-letters: which dead letters\? kafka-broker dead-letters replay <id>\.\.\. \(or --all\)\n$/],
        [['replay', id, '--type', 'x'], /^kafka-broker dead-letters: --type select dead letters for --all; with ids, give only the ids\n$/],
        [['list', '--since', 'soon'], /^kafka-broker dead-letters: since must be a time \(2026-11-27T12:00:00Z\) or a duration/],
        [['list', '--sink', `${w.ns}/nope`], new RegExp(`^kafka-broker dead-letters: KafkaSink ${w.ns}/nope is not serving`)],
        [['replay', '--all', '--to', 'not-a-url'], /^kafka-broker dead-letters: to must be an absolute http or https URL/],
      ];
      for (const [args, message] of cases) {
        const result = await w.deadLetters(...args);
        assert.equal(result.code, 1, args.join(' '));
        assert.match(result.stderr, message);
        assert.equal(result.stderr.split('\n').length, 2, result.stderr);
      }
    });

    test('fixed, the subscriber gets the replayed event, without the knativeerror* extensions', async () => {
      w.failing = false;
      const before = w.received().length;
      const result = await w.deadLetters('replay', id);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`^${id} \\(${w.ns}/dls/\\d/\\d+\\): delivered to Trigger ${w.ns}/payments at http://127\\.0\\.0\\.1:\\d+/pay\\n$`));
      const replayed = w.received().slice(before);
      assert.equal(replayed.length, 1);
      assert.equal(replayed[0]!.attributes['id'], id);
      assert.deepEqual(Object.keys(replayed[0]!.attributes).filter((n) => n.startsWith('knativeerror')), []);
      assert.deepEqual(JSON.parse(replayed[0]!.data!.toString()), { order: id, amount: 42 });
      const table = await w.deadLetters('list');
      assert.match(table.stdout, /\sdelivered\n$/);
    });

    test('replaying it again needs --force', async () => {
      const again = await w.deadLetters('replay', id);
      assert.equal(again.code, 1);
      assert.equal(again.stdout, '');
      assert.match(again.stderr, new RegExp(`^kafka-broker dead-letters: dead letter "${id}" was already replayed at \\S+ \\(delivered, to Trigger ${w.ns}/payments\\); use --force to replay it again\\n$`));
      const before = w.received().length;
      const all = await w.deadLetters('replay', '--all');
      assert.equal(all.code, 0);
      assert.match(all.stderr, /No dead letters to replay/);
      const forced = await w.deadLetters('replay', id, '--force', '-o', 'json');
      assert.equal(forced.code, 0, forced.stderr);
      assert.equal((JSON.parse(forced.stdout) as { results: { outcome: string }[] }).results[0]?.outcome, 'delivered');
      assert.equal(w.received().length, before + 1);
      const [item] = (JSON.parse((await w.deadLetters('list', '-o', 'json')).stdout) as DeadLetterList).items;
      assert.equal(item?.replay?.count, 2);
    });
  });
}
