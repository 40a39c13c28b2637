import { ADMIN_PAGE_STYLE } from '../page-style.js';
import { escapeHtml } from '../dead-letters/page.js';

/**
 * The live view (`GET /tail`): pick a broker (and a trigger, to see only what its filter passes)
 * and the page streams `GET /tail/<ns>/<broker>` with an EventSource, newest on top, at most
 * `MAX_ROWS` rows. Event data is whatever senders posted, so the script puts every part of an
 * event on the page with `textContent` (never as HTML), and the page's Content-Security-Policy
 * allows only its own nonce'd script and style and connections to this server.
 */

export interface LiveBroker {
  readonly namespace: string;
  readonly name: string;
  readonly triggers: readonly string[];
}

export const MAX_ROWS = 200;

export function renderLivePage(brokers: readonly LiveBroker[], nonce: string): string {
  const brokerOptions = brokers
    .map((b) => `${b.namespace}/${b.name}`)
    .map((ref) => `<option value="${escapeHtml(ref)}">${escapeHtml(ref)}</option>`)
    .join('');
  // Each trigger option says its broker; the script shows only those of the chosen broker.
  const triggerOptions = brokers
    .flatMap((b) => b.triggers.map((t) => `<option value="${escapeHtml(t)}" data-broker="${escapeHtml(`${b.namespace}/${b.name}`)}">${escapeHtml(t)}</option>`))
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Live events · kafka-broker</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<header>
  <h1>Live events</h1>
  <p class="lead">A broker's events as they are appended, read without a consumer group (no trigger is disturbed). <a href="/dead-letters">Dead letters</a></p>
</header>
<section id="live" aria-label="live view">
<form id="tail-form">
  <label>Broker <select name="broker" required>${brokerOptions}</select></label>
  <label>Trigger <select name="trigger"><option value="">every event</option>${triggerOptions}</select></label>
  <label>Last <input name="n" type="number" min="0" max="1000" value="10"></label>
  <button type="submit" id="start">Start</button>
  <button type="button" id="stop" disabled>Stop</button>
</form>
${brokers.length === 0 ? '<p class="problem">No broker is in the contract yet.</p>' : ''}
<p id="state" role="status">Stopped.</p>
<ol id="events" aria-live="polite"></ol>
</section>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>
`;
}

/** The page's Content-Security-Policy for this nonce. */
export const livePagePolicy = (nonce: string): string =>
  `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`;

const STYLE = `${ADMIN_PAGE_STYLE}
.problem, .error { color: #9b2c2c; }
ol { list-style: none; padding: 0; margin: 0; }
li { background: white; border: 1px solid #e2e8f0; border-radius: 4px; padding: .5rem .75rem; margin-bottom: .5rem; font-size: .85rem; }
li .meta { color: #4a5568; font-family: ui-monospace, monospace; }
li pre { margin: .3rem 0 0; white-space: pre-wrap; overflow-wrap: anywhere; max-height: 12rem; overflow: auto; }
`;

// Runs in the browser. Every value from an event goes through textContent.
const SCRIPT = `
(() => {
  const form = document.getElementById('tail-form');
  const brokerSelect = form.elements.broker;
  const triggerSelect = form.elements.trigger;
  const state = document.getElementById('state');
  const list = document.getElementById('events');
  const startButton = document.getElementById('start');
  const stopButton = document.getElementById('stop');
  let source = null;

  const showTriggers = () => {
    for (const option of triggerSelect.options) {
      if (option.value !== '') option.hidden = option.dataset.broker !== brokerSelect.value;
    }
    if (triggerSelect.selectedOptions[0] && triggerSelect.selectedOptions[0].hidden) triggerSelect.value = '';
  };
  brokerSelect.addEventListener('change', showTriggers);
  showTriggers();

  const say = (text, error) => {
    state.textContent = text;
    state.className = error ? 'error' : '';
  };
  const stop = (text) => {
    if (source !== null) source.close();
    source = null;
    startButton.disabled = false;
    stopButton.disabled = true;
    say(text, false);
  };
  const text = (tag, className, value) => {
    const element = document.createElement(tag);
    if (className) element.className = className;
    element.textContent = value;
    return element;
  };
  const add = (kind, message) => {
    let data;
    try { data = JSON.parse(message.data); } catch { data = { problem: 'not JSON' }; }
    const item = document.createElement('li');
    const where = 'partition ' + String(data.partition) + ' offset ' + String(data.offset) + ' at ' + String(data.appended);
    if (kind === 'cloudevent') {
      item.appendChild(text('div', 'meta', String(data.type) + '  ' + String(data.source) + '  ' + String(data.id) + '  (' + where + ')'));
      const body = data.data !== undefined ? data.data : data.data_base64;
      if (body !== undefined) item.appendChild(text('pre', '', typeof body === 'string' ? body : JSON.stringify(body, null, 2)));
    } else {
      item.appendChild(text('div', 'meta error', 'not a CloudEvent: ' + String(data.problem) + ' (' + where + ')'));
    }
    list.insertBefore(item, list.firstChild);
    while (list.childElementCount > ${MAX_ROWS}) list.removeChild(list.lastChild);
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    stop('Starting...');
    const [namespace, name] = brokerSelect.value.split('/');
    if (!namespace || !name) return say('Choose a broker.', true);
    const params = new URLSearchParams();
    if (triggerSelect.value !== '') params.set('trigger', triggerSelect.value);
    const n = form.elements.n.value.trim();
    if (n !== '') params.set('n', n);
    list.replaceChildren();
    source = new EventSource('/tail/' + encodeURIComponent(namespace) + '/' + encodeURIComponent(name) + '?' + params.toString());
    startButton.disabled = true;
    stopButton.disabled = false;
    source.addEventListener('open', () => say('Live: ' + brokerSelect.value + (triggerSelect.value ? ', what trigger ' + triggerSelect.value + ' takes' : ''), false));
    source.addEventListener('cloudevent', (message) => add('cloudevent', message));
    source.addEventListener('undecodable', (message) => add('undecodable', message));
    source.addEventListener('error', (message) => {
      if (message.data) {
        let why = message.data;
        try { why = JSON.parse(message.data).message; } catch {}
        stop('');
        return say('Stopped: ' + String(why), true);
      }
      // The browser reconnects by itself unless the server refused (an HTTP error closes it).
      if (source !== null && source.readyState === EventSource.CLOSED) {
        stop('');
        say('Stopped: the admin API refused the stream (log in again, or the broker is gone).', true);
      } else say('Reconnecting...', false);
    });
  });
  stopButton.addEventListener('click', () => stop('Stopped.'));
})();
`;
