/**
 * core/http-server.ts with a request taker (`takeRequests`): the server it builds for fastify has
 * the same bounds as fastify's own, the taker sees each request first and fastify gets the rest,
 * and the taker's errors are answered as the error handler answers fastify's.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { describe, test } from 'node:test';
import type { Server } from 'node:http';
import { request } from 'undici';
import { BrokerError } from '../../../core/errors.js';
import { createHttpServer, listen, sendErrorRaw, type HttpLimits, type ServerParts } from '../../../core/http-server.js';
import { silentLogger } from '../../../core/logger.js';

const limits: HttpLimits = {
  maxBufferedBytes: 4096,
  requestTimeoutMs: 1500,
  headersTimeoutMs: 700,
  keepAliveTimeoutMs: 900,
  maxConnections: 17,
  retryAfterSeconds: 3,
};

function bounds(server: Server): Record<string, unknown> {
  return {
    keepAliveTimeout: server.keepAliveTimeout,
    requestTimeout: server.requestTimeout,
    headersTimeout: server.headersTimeout,
    timeout: server.timeout,
    maxRequestsPerSocket: server.maxRequestsPerSocket,
    maxConnections: server.maxConnections,
    maxHeadersCount: server.maxHeadersCount,
  };
}

describe('createHttpServer with takeRequests', () => {
  test('the server has the bounds fastify gives its own', async (t) => {
    const own = createHttpServer({ bodyLimitBytes: 1024, logger: silentLogger(), limits });
    const built = createHttpServer({ bodyLimitBytes: 1024, logger: silentLogger(), limits, takeRequests: () => () => false });
    t.after(() => Promise.all([own.close(), built.close()]));
    assert.notEqual(built.server, own.server);
    assert.deepEqual(bounds(built.server), bounds(own.server));
    assert.equal(built.server.headersTimeout, 700);
    assert.equal(built.server.keepAliveTimeout, 900);
  });

  test('the taker sees requests first; what it leaves reaches fastify; it answers with the error handler’s bytes', async (t) => {
    let parts: ServerParts | undefined;
    const seen: string[] = [];
    const app = createHttpServer({
      bodyLimitBytes: 64,
      logger: silentLogger(),
      limits,
      takeRequests: (server) => {
        parts = server;
        return (req, res) => {
          seen.push(`${req.method} ${req.url}`);
          if (req.url === '/taken') {
            res.writeHead(204);
            res.end();
            return true;
          }
          if (req.url === '/body') {
            server.bodies.readBody(req.headers, server.bodies.holdingFor(req.headers, res), req, (error, body) => {
              if (error !== null) {
                res.setHeader('connection', 'close');
                server.fail(res, error);
                return;
              }
              res.writeHead(200);
              res.end(body);
            });
            return true;
          }
          if (req.url === '/throws') {
            server.fail(res, new Error('boom'));
            return true;
          }
          return false;
        };
      },
    });
    app.post('/fastify', (_request, reply) => reply.code(201).send({ via: 'fastify' }));
    app.post('/too-large', () => 'never');
    t.after(() => app.close());
    const { url } = await listen(app, '127.0.0.1', 0);

    assert.equal((await request(`${url}/taken`, { method: 'POST' })).statusCode, 204);
    const viaFastify = await request(`${url}/fastify`, { method: 'POST' });
    assert.equal(viaFastify.statusCode, 201);
    assert.deepEqual(await viaFastify.body.json(), { via: 'fastify' });
    assert.deepEqual(seen, ['POST /taken', 'POST /fastify']);

    const echoed = await request(`${url}/body`, { method: 'POST', body: 'hello' });
    assert.equal(await echoed.body.text(), 'hello');

    // A body over the limit: the taker's answer is the one fastify's parser error gets.
    const big = 'x'.repeat(100);
    const taken = await request(`${url}/body`, { method: 'POST', body: big });
    const fastify = await request(`${url}/too-large`, { method: 'POST', body: big, headers: { 'content-type': 'text/plain' } });
    assert.equal(taken.statusCode, 413);
    assert.equal(taken.headers['connection'], 'close');
    assert.deepEqual([taken.statusCode, taken.headers['content-type'], taken.headers['connection'], await taken.body.text()], [fastify.statusCode, fastify.headers['content-type'], fastify.headers['connection'], await fastify.body.text()]);

    const thrown = await request(`${url}/throws`, { method: 'POST' });
    assert.equal(thrown.statusCode, 500);
    assert.deepEqual(await thrown.body.json(), { statusCode: 500, code: 'INTERNAL', error: 'Internal Server Error', message: 'boom' });

    assert.equal(parts?.closing(), false);
    await app.close();
    assert.equal(parts?.closing(), true);
  });

  test('fail: OVERLOADED gets Retry-After, as from the error handler', async (t) => {
    const app = createHttpServer({
      bodyLimitBytes: 64,
      logger: silentLogger(),
      limits,
      takeRequests: (server) => (_req, res) => {
        server.fail(res, new BrokerError('OVERLOADED', 'full'));
        return true;
      },
    });
    t.after(() => app.close());
    const { url } = await listen(app, '127.0.0.1', 0);
    const response = await request(`${url}/x`, { method: 'POST' });
    assert.equal(response.statusCode, 503);
    assert.equal(response.headers['retry-after'], '3');
    assert.equal((await response.body.json() as { code: string }).code, 'OVERLOADED');
  });
});

describe('sendErrorRaw', () => {
  test('the same head and body as sendError through fastify', async (t) => {
    const error = new BrokerError('LOG_UNAVAILABLE', 'not now', { details: { topic: 't' } });
    const headers = { 'retry-after': '5' };
    const app = createHttpServer({
      bodyLimitBytes: 64,
      logger: silentLogger(),
      takeRequests: () => (req, res) => {
        if (req.url !== '/raw') return false;
        sendErrorRaw(res, error, headers);
        return true;
      },
    });
    const { sendError } = await import('../../../core/http-server.js');
    app.get('/fastify', (_request, reply) => sendError(reply, error, headers));
    t.after(() => app.close());
    const { url } = await listen(app, '127.0.0.1', 0);
    const rawHead = (path: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const req = httpRequest(`${url}${path}`, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve(`${res.statusCode} ${JSON.stringify(res.rawHeaders.filter((_, i, all) => all[i - (i % 2)] !== 'Date'))} ${body}`));
        });
        req.on('error', reject);
        req.end();
      });
    assert.equal(await rawHead('/raw'), await rawHead('/fastify'));
  });
});
