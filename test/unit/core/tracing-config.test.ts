import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { isBrokerError } from '../../../core/errors.js';
import { headersOf, startSpan, startTracing, tracingSettingsFromEnv, type TracingSettings } from '../../../core/tracing.js';

describe('tracing settings from OTEL_* variables', () => {
  const on: [string, Record<string, string>, Partial<TracingSettings>][] = [
    ['an OTLP endpoint alone turns OTLP on', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }, { exporters: ['otlp'], otlpTracesUrl: 'http://collector:4318/v1/traces' }],
    ['the traces endpoint is used as given', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/custom', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:1' }, { otlpTracesUrl: 'http://c:4318/custom' }],
    ['otlp without an endpoint goes to localhost', { OTEL_TRACES_EXPORTER: 'otlp' }, { otlpTracesUrl: 'http://localhost:4318/v1/traces', sampler: 'parentbased_always_on', samplerRatio: 1 }],
    ['a list of exporters', { OTEL_TRACES_EXPORTER: 'console, otlp' }, { exporters: ['console', 'otlp'] }],
    ['service name and sampler', { OTEL_TRACES_EXPORTER: 'console', OTEL_SERVICE_NAME: 'edge', OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }, { serviceName: 'edge', sampler: 'traceidratio', samplerRatio: 0.25 }],
    ['resource attributes, percent-decoded', { OTEL_TRACES_EXPORTER: 'console', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,team=a%2Cb' }, { resourceAttributes: [['deployment.environment', 'prod'], ['team', 'a,b']] }],
    ['batch bounds by default: room for a busy ingress', { OTEL_TRACES_EXPORTER: 'otlp' }, { batch: { maxQueueSize: 16_384, maxExportBatchSize: 2048 } }],
    ['batch bounds from OTEL_BSP_*', { OTEL_TRACES_EXPORTER: 'otlp', OTEL_BSP_MAX_QUEUE_SIZE: '4096', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '256' }, { batch: { maxQueueSize: 4096, maxExportBatchSize: 256 } }],
    ['a batch never larger than the queue', { OTEL_TRACES_EXPORTER: 'otlp', OTEL_BSP_MAX_QUEUE_SIZE: '100' }, { batch: { maxQueueSize: 100, maxExportBatchSize: 100 } }],
  ];
  for (const [name, env, expected] of on) {
    test(`on: ${name}`, () => {
      const settings = tracingSettingsFromEnv(env, 'kafka-broker-test');
      assert.ok(settings !== undefined);
      for (const [key, value] of Object.entries(expected)) assert.deepEqual(settings[key as keyof typeof settings], value, key);
      if (!('OTEL_SERVICE_NAME' in env)) assert.equal(settings.serviceName, 'kafka-broker-test');
    });
  }

  const off: [string, Record<string, string>][] = [
    ['nothing set', {}],
    ['empty values count as unset', { OTEL_TRACES_EXPORTER: '', OTEL_EXPORTER_OTLP_ENDPOINT: ' ' }],
    ['exporter none, even with an endpoint', { OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }],
    ['the SDK disabled', { OTEL_SDK_DISABLED: 'TRUE', OTEL_TRACES_EXPORTER: 'otlp' }],
  ];
  for (const [name, env] of off) {
    test(`off: ${name}`, () => assert.equal(tracingSettingsFromEnv(env, 'x'), undefined));
  }

  const invalid: [Record<string, string>, RegExp][] = [
    [{ OTEL_TRACES_EXPORTER: 'zipkin' }, /OTEL_TRACES_EXPORTER.*zipkin/],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' }, /OTEL_EXPORTER_OTLP_ENDPOINT/],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://c' }, /OTEL_EXPORTER_OTLP_ENDPOINT: expected an http\(s\) URL/],
    [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, /OTEL_EXPORTER_OTLP_PROTOCOL: only 'http\/protobuf'/],
    [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER: 'jaeger_remote' }, /OTEL_TRACES_SAMPLER/],
    [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER_ARG: '2' }, /OTEL_TRACES_SAMPLER_ARG/],
    [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_RESOURCE_ATTRIBUTES: 'novalue' }, /OTEL_RESOURCE_ATTRIBUTES: expected key=value/],
    [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_BSP_MAX_QUEUE_SIZE: '0' }, /OTEL_BSP_MAX_QUEUE_SIZE/],
    [{ OTEL_TRACES_EXPORTER: 'otlp', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: 'lots' }, /OTEL_BSP_MAX_EXPORT_BATCH_SIZE/],
  ];
  for (const [env, message] of invalid) {
    test(`invalid: ${JSON.stringify(env)} is one line naming the variable`, () => {
      assert.throws(() => tracingSettingsFromEnv(env, 'x'), (error: unknown) => {
        assert.ok(isBrokerError(error) && error.code === 'CONFIG_INVALID');
        assert.match(error.message, message);
        assert.doesNotMatch(error.message, /\n/);
        return true;
      });
    });
  }

  test('OTLP really exports: spans reach a collector, with the service name', async (t) => {
    const bodies: Buffer[] = [];
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/v1/traces') bodies.push(Buffer.concat(chunks));
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => collector.close(() => resolve())));
    const { port } = collector.address() as AddressInfo;
    const running = await startTracing(tracingSettingsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_SERVICE_NAME: 'svc-under-test' }, 'x'));
    const span = startSpan(running.tracing.tracer!, 'receive', SpanKind.SERVER, { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    assert.match(headersOf(span)!.traceparent, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    span.end();
    await running.shutdown();
    assert.equal(bodies.length, 1);
    // Protobuf strings are stored as-is: the names are in the bytes.
    assert.ok(bodies[0]!.includes('svc-under-test'));
    assert.ok(bodies[0]!.includes('receive'));
  });

  test('OTLP export keeps the exporter settings from OTEL_EXPORTER_OTLP_*: headers and gzip', async (t) => {
    const requests: { headers: Record<string, unknown>; body: Buffer }[] = [];
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        requests.push({ headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => collector.close(() => resolve())));
    const { port } = collector.address() as AddressInfo;
    // The export worker reads them from its environment, a copy of the process's when it starts.
    process.env['OTEL_EXPORTER_OTLP_HEADERS'] = 'x-api-key=s3cret';
    process.env['OTEL_EXPORTER_OTLP_COMPRESSION'] = 'gzip';
    let running;
    try {
      running = await startTracing(tracingSettingsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` }, 'svc-gzip'));
    } finally {
      delete process.env['OTEL_EXPORTER_OTLP_HEADERS'];
      delete process.env['OTEL_EXPORTER_OTLP_COMPRESSION'];
    }
    startSpan(running.tracing.tracer!, 'deliver', SpanKind.CLIENT, undefined).end();
    await running.shutdown();
    assert.equal(requests.length, 1);
    const [request] = requests;
    assert.equal(request!.headers['x-api-key'], 's3cret');
    assert.equal(request!.headers['content-type'], 'application/x-protobuf');
    assert.equal(request!.headers['content-encoding'], 'gzip');
    const body = gunzipSync(request!.body);
    assert.ok(body.includes('svc-gzip'));
    assert.ok(body.includes('deliver'));
  });

  test('OTLP export without flush: batches in shared slots are polled by the worker, also after it idled, and more than the slots hold', async (t) => {
    let spans = 0;
    // Span.name is field 5 (tag 0x2a), then its length and bytes: protobuf keeps strings as they are.
    const name = Buffer.from([0x2a, 6, ...Buffer.from('polled')]);
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        for (let i = body.indexOf(name); i >= 0; i = body.indexOf(name, i + 1)) spans++;
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => collector.close(() => resolve())));
    const { port } = collector.address() as AddressInfo;
    process.env['OTEL_BSP_SCHEDULE_DELAY'] = '20';
    let running;
    try {
      running = await startTracing(tracingSettingsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` }, 'svc-polled'));
    } finally {
      delete process.env['OTEL_BSP_SCHEDULE_DELAY'];
    }
    t.after(() => running.shutdown());
    const tracer = running.tracing.tracer!;
    const end = (n: number): void => {
      for (let i = 0; i < n; i++) startSpan(tracer, 'polled', SpanKind.INTERNAL, undefined, { attributes: { n: i } }).end();
    };
    const arrived = async (expected: number): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (spans < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(spans, expected);
    };
    // Five batches: the first adds to the string tables (a message), the others sit in slots.
    end(5000);
    await arrived(5000);
    // The worker stops polling after a second without spans; a batch in a slot then wakes it.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    end(3000);
    await arrived(8000);
    // Twelve batches at once: more than the slots, the rest transferred.
    end(12 * 1024);
    await arrived(8000 + 12 * 1024);
  });

  test('off: no tracer, and shutting down is a no-op', async () => {
    const running = await startTracing(undefined);
    assert.equal(running.tracing.tracer, undefined);
    await running.shutdown();
  });
});
