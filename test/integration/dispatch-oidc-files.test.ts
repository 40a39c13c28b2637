/**
 * OIDC tokens on deliveries in standalone mode: a token file per audience (`oidcTokenFiles`).
 * The subscriber and the dead-letter sink each get the token of their own audience; a
 * destination whose audience has no token is not sent to at all (the attempt fails as a network
 * failure does, and the event goes to the dead-letter sink).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { audienceOf } from '../../dispatcher/oidc-tokens.js';
import { makeBroker, makeEgress, makeEgressConfig } from '../helpers/builders.js';
import { answer, makeEvent, memoryLog, startScenario, startSubscriber, uniqueEgress } from '../helpers/servers.js';
import { waitUntil } from '../helpers/wait.js';

const dir = await mkdtemp(join(tmpdir(), 'dispatch-oidc-files-'));
after(() => rm(dir, { recursive: true, force: true }));
const subscriberToken = join(dir, 'subscriber');
const deadLetterToken = join(dir, 'dead-letter');
await writeFile(subscriberToken, 'token-for-subscriber\n');
await writeFile(deadLetterToken, 'token-for-dead-letter');
const oidcTokenFiles = { 'aud-subscriber': subscriberToken, 'aud-dead-letter': deadLetterToken };
const serviceAccount = { namespace: 'default', name: 'oidc-trigger-t' };

describe('OIDC tokens from files (standalone)', () => {
  test('each destination gets the token of its audience; none where there is no audience', async (t) => {
    const subscriber = await startSubscriber(t);
    subscriber.respond((_req, res) => answer(res, 500));
    const dls = await startSubscriber(t);
    const plain = await startSubscriber(t);
    const egress = uniqueEgress('oidc', {
      destination: subscriber.url,
      egressConfig: makeEgressConfig({ retry: 1, backoffDelayMs: 5, deadLetter: dls.url }),
      auth: { serviceAccount, destinationAudience: 'aud-subscriber', deadLetterAudience: 'aud-dead-letter' },
    });
    const s = await startScenario(t, memoryLog, { egresses: [egress, uniqueEgress('plain', { destination: plain.url })], config: { oidcTokenFiles } });
    await s.send([makeEvent({ id: 'e1' })]);
    await waitUntil(() => dls.requests.length === 1 && plain.requests.length === 1, { message: 'dead-lettered and delivered' });
    assert.deepEqual(subscriber.requests.map((r) => r.headers['authorization']), ['Bearer token-for-subscriber', 'Bearer token-for-subscriber']);
    assert.equal(dls.requests[0]!.headers['authorization'], 'Bearer token-for-dead-letter');
    assert.equal(plain.requests[0]!.headers['authorization'], undefined);
  });

  test('an audience without a token: nothing is sent there; the event is dead-lettered', async (t) => {
    const subscriber = await startSubscriber(t);
    const dls = await startSubscriber(t);
    const egress = uniqueEgress('no-token', {
      destination: subscriber.url,
      egressConfig: makeEgressConfig({ retry: 1, backoffDelayMs: 5, deadLetter: dls.url }),
      auth: { serviceAccount, destinationAudience: 'aud-nobody' },
    });
    const s = await startScenario(t, memoryLog, { egresses: [egress], config: { oidcTokenFiles } });
    await s.send([makeEvent({ id: 'e2' })]);
    await waitUntil(() => dls.requests.length === 1, { message: 'dead-lettered' });
    assert.equal(subscriber.requests.length, 0);
    assert.equal(dls.requests[0]!.headers['authorization'], undefined, 'the sink has no audience');
    // Failed as a network failure does: no status code, the subscriber named.
    assert.equal(dls.requests[0]!.headers['ce-knativeerrordest'], subscriber.url);
    assert.equal(dls.requests[0]!.headers['ce-knativeerrorcode'], undefined);
  });
});

describe('audienceOf: which audience a destination URL has for an egress', () => {
  const auth = { serviceAccount, destinationAudience: 'sub', deadLetterAudience: 'dead' };
  const own = makeEgress('t', { destination: 'http://sub/', egressConfig: makeEgressConfig({ deadLetter: 'http://dead/' }), auth });
  const inherited = makeEgress('t', { destination: 'http://sub/', egressConfig: null, auth: { serviceAccount, destinationAudience: 'sub' } });
  const broker = makeBroker('b', [], { egressConfig: makeEgressConfig({ deadLetter: 'http://broker-dead/' }) });
  const cases: [string, ReturnType<typeof makeEgress>, string, string | undefined][] = [
    ['the subscriber', own, 'http://sub/', 'sub'],
    ['its own dead-letter sink', own, 'http://dead/', 'dead'],
    ['another URL (a reply)', own, 'http://elsewhere/', undefined],
    ['the broker\'s dead-letter sink (no audience known)', inherited, 'http://broker-dead/', undefined],
    ['no auth at all', makeEgress('t', { destination: 'http://sub/' }), 'http://sub/', undefined],
  ];
  for (const [name, egress, url, expected] of cases) test(name, () => assert.equal(audienceOf(broker, egress, url), expected));
});
