/**
 * The codec alone: decode + validate one 1 KiB binary-mode HTTP event, and one structured one,
 * with our codec and with the `cloudevents` SDK (`HTTP.toEvent` + `validate()`), in one run.
 * Figures, not a test: prints µs per event and the ratios.
 *
 *   npx tsx test/bench/codec.bench.ts
 */
import { HTTP } from 'cloudevents';
import { decodeHttp } from '../../core/cloudevents/http-binding.js';
import { toKafkaRecord } from '../../core/cloudevents/kafka-binding.js';

export interface CodecFigures {
  readonly oursBinaryUs: number;
  readonly sdkBinaryUs: number;
  readonly oursStructuredUs: number;
  readonly sdkStructuredUs: number;
}

const data = Buffer.from(JSON.stringify({ payload: 'x'.repeat(1024 - 16) }));
const binaryHeaders = {
  host: '127.0.0.1:8080', 'content-length': String(data.length), connection: 'keep-alive',
  'ce-specversion': '1.0', 'ce-id': '5e4c4e76-0a4b-4bd5-9b8f-4d2c1e0b7a11', 'ce-source': '/bench/producer',
  'ce-type': 'dev.knative.bench', 'ce-time': '2024-05-01T12:00:00Z', 'content-type': 'application/json',
};
const structuredBody = Buffer.from(JSON.stringify({
  specversion: '1.0', id: '5e4c4e76-0a4b-4bd5-9b8f-4d2c1e0b7a11', source: '/bench/producer', type: 'dev.knative.bench',
  time: '2024-05-01T12:00:00Z', datacontenttype: 'application/json', data: JSON.parse(data.toString()),
}));
const structuredHeaders = { 'content-type': 'application/cloudevents+json' };

function measure(name: string, fn: () => void, ms = 1500): number {
  for (let i = 0; i < 2000; i++) fn(); // warm-up
  let n = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 200; i++) fn();
    n += 200;
    now = process.hrtime.bigint();
  }
  const us = Number(now - start) / 1000 / n;
  console.log(`  ${name.padEnd(44)} ${us.toFixed(2).padStart(8)} µs/event  ${Math.round(1e6 / us).toLocaleString('en-US').padStart(10)} events/s`);
  return us;
}

function ours(headers: Record<string, string>, body: Buffer): void {
  const result = decodeHttp(headers, body);
  if (!result.ok) throw result.error;
}

function sdk(headers: Record<string, string>, body: Buffer): void {
  // The SDK reads the body as text (what an HTTP framework hands it).
  const event = HTTP.toEvent({ headers, body: body.toString('utf8') }) as unknown as { validate(): boolean };
  event.validate();
}

export function runCodecBench(): CodecFigures {
  console.log('codec: decode + validate, 1 KiB JSON data');
  const oursBinaryUs = measure('ours, binary mode (decodeHttp)', () => ours(binaryHeaders, data));
  const sdkBinaryUs = measure('SDK, binary mode (HTTP.toEvent + validate)', () => sdk(binaryHeaders, data));
  const oursStructuredUs = measure('ours, structured mode', () => ours(structuredHeaders, structuredBody));
  const sdkStructuredUs = measure('SDK, structured mode', () => sdk(structuredHeaders, structuredBody));
  measure('ours, binary decode + toKafkaRecord', () => {
    const r = decodeHttp(binaryHeaders, data);
    if (r.ok) toKafkaRecord(r.events[0]!);
  });
  console.log(`  ratio binary (SDK / ours):     ${(sdkBinaryUs / oursBinaryUs).toFixed(1)}x faster (goal 5x)`);
  console.log(`  ratio structured (SDK / ours): ${(sdkStructuredUs / oursStructuredUs).toFixed(1)}x faster`);
  return { oursBinaryUs, sdkBinaryUs, oursStructuredUs, sdkStructuredUs };
}

if (import.meta.url === `file://${process.argv[1]}`) runCodecBench();
