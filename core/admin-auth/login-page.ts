/**
 * The admin API's login page: a token field whose script POSTs `{"token": …}` as JSON to /login
 * (a form post could not be told apart from a cross-site one), then goes on to the page asked for.
 */

/** The path to go on to after login: only a path of this server (no `//host`, no scheme). */
export function safeNext(next: string | undefined): string {
  if (next === undefined || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\') || [...next].some((c) => c.charCodeAt(0) < 0x20)) return '/dead-letters';
  return next;
}

export function renderLoginPage(next: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in · kafka-broker admin</title>
<style>
:root { font-family: system-ui, sans-serif; color: #1d2433; background: #f7f8fa; }
body { margin: 4rem auto; max-width: 32rem; padding: 0 1rem; }
label { display: flex; flex-direction: column; gap: .3rem; font-size: .9rem; color: #4a5568; }
input { font: inherit; padding: .4rem; border: 1px solid #cbd2dc; border-radius: 4px; }
button { font: inherit; margin-top: .75rem; padding: .35rem .9rem; border: 1px solid #2b6cb0; background: #2b6cb0; color: white; border-radius: 4px; }
#problem { color: #9b2c2c; }
code { font-size: .85rem; }
</style>
</head>
<body>
<h1>kafka-broker admin</h1>
<p>Give the admin token: <code>kafka-broker start</code> keeps it in <code>~/.local/state/kafka-broker/admin-token</code> unless told otherwise; in Kubernetes, a ServiceAccount token (<code>kubectl create token</code>).</p>
<form id="login" data-next="${escapeHtml(next)}">
  <label>Token <input id="token" name="token" type="password" autocomplete="off" required autofocus></label>
  <button type="submit">Log in</button>
</form>
<p id="problem" role="alert" hidden></p>
<script>
document.getElementById('login').addEventListener('submit', async (event) => {
  event.preventDefault();
  const problem = document.getElementById('problem');
  const response = await fetch('/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ token: document.getElementById('token').value }),
  });
  if (response.ok) { location.assign(event.target.dataset.next); return; }
  const body = await response.json().catch(() => ({}));
  problem.textContent = body.message || ('HTTP ' + response.status);
  problem.hidden = false;
});
</script>
</body>
</html>
`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
