// A subscriber for the quickstart: prints every event delivered to it, one line each.
//
//   node examples/subscriber.mjs [port]        (default 8081, or $PORT)
//
// Paths under /fail answer 500, to show retries and dead letters (see quickstart/dead-letter.yaml).
// Everything else answers 200 with no body (a body that is a CloudEvent would be a reply).
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? process.env.PORT ?? 8081);

function attributes(req, body) {
  const type = req.headers['content-type'] ?? '';
  // Structured mode: the whole event is the body (CloudEvents HTTP binding §3.2).
  if (type.startsWith('application/cloudevents+json')) {
    const { data, data_base64: _base64, ...attrs } = JSON.parse(body.toString('utf8'));
    return { attrs, data: data === undefined ? '' : JSON.stringify(data) };
  }
  // Binary mode: attributes in ce- headers, percent-encoded (§3.1.3).
  const attrs = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith('ce-')) attrs[name.slice(3)] = decodeURIComponent(String(value));
  }
  return { attrs, data: body.toString('utf8') };
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const fail = req.url.startsWith('/fail');
    let line;
    try {
      const { attrs, data } = attributes(req, Buffer.concat(chunks));
      const { specversion: _v, id, type, source, ...rest } = attrs;
      const extra = Object.entries(rest).map(([k, v]) => `${k}=${v}`).join(' ');
      line = `${req.url}  type=${type} source=${source} id=${id}${extra ? ` ${extra}` : ''}${data ? `  data=${data}` : ''}`;
    } catch (error) {
      line = `${req.url}  (not a CloudEvent: ${error.message})`;
    }
    console.log(`${new Date().toISOString().slice(11, 23)} ${line}${fail ? '  -> answered 500' : ''}`);
    res.statusCode = fail ? 500 : 200;
    res.end();
  });
});

server.listen(port, '127.0.0.1', () => console.log(`subscriber listening on http://127.0.0.1:${port}/`));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
