import { ADMIN_PAGE_STYLE } from '../page-style.js';
import type { DeadLetter, DeadLetterList, SinkInfo } from './types.js';

/**
 * The /dead-letters page: server-rendered HTML (the list, filtered by a plain GET form) with a
 * little inline script for the details of a dead letter (on click) and its replay button. It
 * loads nothing but itself and the admin API's JSON, so it works with no network beyond the admin
 * port. Everything from an event is escaped here, or set as text by the script — never as HTML.
 */

export interface PageInput {
  readonly list: DeadLetterList | undefined;
  /** A bad filter (shown instead of the list). */
  readonly problem: string | undefined;
  readonly filters: Readonly<Record<string, string | undefined>>;
  readonly sinks: readonly SinkInfo[];
  /** The login session's CSRF token, which the page's POSTs send back (none for a bearer-token GET). */
  readonly csrfToken?: string | undefined;
}

export function renderDeadLettersPage(input: PageInput): string {
  const { list, problem, filters, sinks, csrfToken } = input;
  const value = (name: string): string => escapeHtml(filters[name] ?? '');
  const sinkOptions = sinks
    .map((s) => `${s.namespace}/${s.name}`)
    .map((ref) => `<option value="${escapeHtml(ref)}"${filters['sink'] === ref ? ' selected' : ''}>${escapeHtml(ref)}</option>`)
    .join('');
  const multipleSinks = list !== undefined && new Set(list.items.map((i) => `${i.sink.namespace}/${i.sink.name}`)).size > 1;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="${escapeHtml(csrfToken ?? '')}">
<title>Dead letters · kafka-broker</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>Dead letters</h1>
  <p class="lead">Events the KafkaSinks hold with Knative's dead-letter marks, oldest first. Click a row for the whole event; <em>Replay</em> sends it again to the trigger it failed for. <a href="/tail">Live events</a></p>
</header>
<form id="filters" method="get" action="/dead-letters">
  <label>Sink <select name="sink"><option value="">all sinks</option>${sinkOptions}</select></label>
  <label>Trigger <input name="trigger" value="${value('trigger')}" placeholder="namespace/name"></label>
  <label>Type <input name="type" value="${value('type')}" placeholder="com.example.payment"></label>
  <label>Since <input name="since" value="${value('since')}" placeholder="1h, or 2026-11-27T12:00:00Z"></label>
  <button type="submit">Filter</button>
  <a href="/dead-letters">Clear</a>
</form>
${problem !== undefined ? `<p id="summary" class="problem" role="status">${escapeHtml(problem)}</p>` : summary(list!, sinks, filters)}
<div id="message" role="alert" hidden></div>
<main>
${list === undefined || list.items.length === 0 ? '' : table(list.items, multipleSinks)}
<aside id="details" hidden aria-live="polite"></aside>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

/** The same filters, from where this page stopped. */
function nextPageHref(filters: Readonly<Record<string, string | undefined>>, token: string): string {
  const params = new URLSearchParams();
  for (const name of ['sink', 'trigger', 'subscription', 'type', 'since', 'limit']) {
    const value = filters[name];
    if (value !== undefined && value !== '') params.set(name, value);
  }
  params.set('continue', token);
  return `/dead-letters?${params.toString()}`;
}

function summary(list: DeadLetterList, sinks: readonly SinkInfo[], filters: Readonly<Record<string, string | undefined>>): string {
  const where = list.sinks.length === 1 ? `sink ${list.sinks[0]!.namespace}/${list.sinks[0]!.name}` : `${list.sinks.length} sinks`;
  if (sinks.length === 0) return '<p id="summary" role="status">No KafkaSinks are serving: dead letters are listed from the KafkaSinks used as dead-letter sinks.</p>';
  if (list.items.length === 0) return `<p id="summary" role="status">No dead letters in ${escapeHtml(where)}.</p>`;
  const count = `${list.items.length} dead letter${list.items.length === 1 ? '' : 's'}`;
  if (list.continue === undefined) return `<p id="summary" role="status">${count} in ${escapeHtml(where)}.</p>`;
  return `<p id="summary" role="status">${count} in ${escapeHtml(where)}, and more: <a id="next-page" href="${escapeHtml(nextPageHref(filters, list.continue))}">next page</a>.</p>`;
}

function table(items: readonly DeadLetter[], withSink: boolean): string {
  const rows = items.map((d) => {
    const failedFor = d.failedFor === null ? '' : `${d.failedFor.kind.toLowerCase()}/${d.failedFor.namespace}/${d.failedFor.name}`;
    const replayed = d.replay === null ? '' : `${d.replay.outcome} ${d.replay.replayedAt}`;
    const cells = [
      ...(withSink ? [`${d.sink.namespace}/${d.sink.name}`] : []),
      d.id, d.type, d.source, failedFor, d.errorDest, d.errorCode === null ? '' : String(d.errorCode), d.deadLetteredAt,
    ].map((c, i) => `<td${i === (withSink ? 1 : 0) ? ' class="id"' : ''}>${escapeHtml(c)}</td>`).join('');
    const label = d.replay === null ? 'Replay' : 'Replay again';
    return `<tr data-ref="${escapeHtml(d.ref)}" data-id="${escapeHtml(d.id)}" data-replayed="${d.replay === null ? 'false' : 'true'}" tabindex="0">${cells}<td class="replayed">${escapeHtml(replayed)}</td><td><button type="button" class="replay">${label}</button></td></tr>`;
  }).join('\n');
  const headers = [...(withSink ? ['Sink'] : []), 'ID', 'Type', 'Source', 'Failed for', 'Destination', 'Code', 'Dead-lettered', 'Replayed', '']
    .map((h) => `<th scope="col">${h}</th>`).join('');
  return `<div class="list"><table id="dead-letters"><thead><tr>${headers}</tr></thead>\n<tbody>\n${rows}\n</tbody></table></div>`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `${ADMIN_PAGE_STYLE}
input, select { min-width: 12rem; }
button:disabled { cursor: progress; }
.problem, #message.error { color: #9b2c2c; }
#message { padding: .5rem .75rem; background: #ebf8ff; border: 1px solid #bee3f8; border-radius: 4px; margin-bottom: 1rem; }
#message.error { background: #fff5f5; border-color: #feb2b2; }
main { display: grid; grid-template-columns: minmax(0, 1fr); gap: 1rem; align-items: start; }
@media (min-width: 1400px) { main.with-details { grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); } }
.list { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; background: white; font-size: .85rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e2e8f0; vertical-align: top; }
td { overflow-wrap: anywhere; }
th { background: #edf2f7; font-weight: 600; }
td:last-child button { white-space: nowrap; }
tbody tr { cursor: pointer; }
tbody tr:hover, tbody tr.selected { background: #ebf4ff; }
td.id { font-family: ui-monospace, monospace; min-width: 8rem; }
aside { background: white; border: 1px solid #e2e8f0; border-radius: 4px; padding: 1rem; overflow: auto; }
aside h2 { font-size: 1.1rem; margin: 0 0 .5rem; }
aside h3 { font-size: .95rem; margin: 1rem 0 .3rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem .75rem; margin: 0; font-size: .85rem; }
dt { color: #4a5568; }
dd { margin: 0; overflow-wrap: anywhere; font-family: ui-monospace, monospace; }
pre { background: #f7fafc; border: 1px solid #e2e8f0; padding: .5rem; white-space: pre-wrap; word-break: break-all; font-size: .8rem; margin: 0; }
`;

/**
 * The page's behaviour: a row click shows the dead letter's details (GET /dead-letters/events/<ref>);
 * a Replay button posts {ids:[ref]} (with force when it was replayed before) to /dead-letters/replay.
 */
const SCRIPT = `
(() => {
  const details = document.getElementById('details');
  const message = document.getElementById('message');
  const main = document.querySelector('main');
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; };
  const say = (text, isError) => { message.hidden = false; message.textContent = text; message.className = isError ? 'error' : ''; };

  async function show(row) {
    document.querySelectorAll('tr.selected').forEach((r) => r.classList.remove('selected'));
    row.classList.add('selected');
    const ref = row.dataset.ref;
    const response = await fetch('/dead-letters/events/' + encodeURIComponent(ref), { headers: { accept: 'application/json' } });
    const body = await response.json();
    if (!response.ok) { say(body.message || ('HTTP ' + response.status), true); return; }
    const d = body.items.find((i) => i.ref === ref) || body.items[0];
    details.replaceChildren();
    details.append(el('h2', 'Dead letter ' + d.id));
    const facts = el('dl');
    const fact = (name, value) => { if (value === undefined || value === null || value === '') return; facts.append(el('dt', name), el('dd', String(value))); };
    fact('ref', d.ref);
    fact('sink', d.sink.namespace + '/' + d.sink.name + ' (topic ' + d.sink.topic + ', partition ' + d.partition + ', offset ' + d.offset + ')');
    fact('dead-lettered', d.deadLetteredAt);
    fact('failed for', d.failedFor ? d.failedFor.kind + ' ' + d.failedFor.namespace + '/' + d.failedFor.name : 'unknown');
    fact('broker', d.broker);
    fact('destination', d.errorDest);
    fact('code', d.errorCode);
    fact('replayed', d.replay ? d.replay.outcome + ' at ' + d.replay.replayedAt + ' (' + d.replay.count + 'x, to ' + d.replay.destination + ')' : 'no');
    details.append(facts);
    details.append(el('h3', 'Attributes'));
    const attributes = el('dl', undefined, 'attributes');
    for (const [name, value] of Object.entries(d.attributes)) attributes.append(el('dt', name), el('dd', String(value)));
    details.append(attributes);
    const payload = (title, from, p) => {
      const about = [from, p ? p.bytes + ' bytes' : undefined, p && p.encoding === 'base64' ? 'base64' : undefined].filter(Boolean).join(', ');
      details.append(el('h3', title + (about ? ' (' + about + ')' : '')));
      details.append(p ? el('pre', p.value, 'payload') : el('p', 'none'));
    };
    payload('Data', undefined, d.data);
    payload('Error response', 'knativeerrordata', d.errorData);
    const again = el('button', row.dataset.replayed === 'true' ? 'Replay again' : 'Replay', 'replay');
    details.dataset.ref = ref;
    again.type = 'button';
    again.addEventListener('click', () => replay(row));
    details.append(el('p'), again);
    details.hidden = false;
    main.classList.add('with-details');
  }

  async function replay(row) {
    const force = row.dataset.replayed === 'true';
    document.querySelectorAll('button.replay').forEach((b) => { b.disabled = true; });
    say('Replaying ' + row.dataset.id + '…', false);
    try {
      const response = await fetch('/dead-letters/replay', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', 'x-csrf-token': csrf },
        body: JSON.stringify({ ids: [row.dataset.ref], force }),
      });
      const body = await response.json();
      if (!response.ok) { say(body.message || ('HTTP ' + response.status), true); return; }
      const lines = body.results.map((r) => r.id + ': ' + r.outcome + (r.destination ? ' (' + r.target + ', ' + r.destination + ')' : '') + (r.message ? ': ' + r.message : ''));
      const failed = body.results.some((r) => r.outcome === 'failed');
      say('Replayed ' + lines.join('; '), failed);
      const result = body.results[0];
      if (result && result.outcome !== 'failed') {
        row.dataset.replayed = 'true';
        row.querySelector('td.replayed').textContent = result.outcome + ' ' + new Date().toISOString();
        row.querySelectorAll('button.replay').forEach((b) => { b.textContent = 'Replay again'; });
        // The details, if they show this dead letter, now show its replay.
        if (!details.hidden && details.dataset.ref === row.dataset.ref) await show(row);
      }
    } catch (error) {
      say('Replay failed: ' + error, true);
    } finally {
      document.querySelectorAll('button.replay').forEach((b) => { b.disabled = false; });
    }
  }

  document.querySelectorAll('#dead-letters tbody tr').forEach((row) => {
    row.addEventListener('click', (event) => {
      if (event.target.closest('button')) return;
      show(row);
    });
    row.addEventListener('keydown', (event) => { if (event.key === 'Enter') show(row); });
    row.querySelector('button.replay').addEventListener('click', () => replay(row));
  });
})();
`;
