import {
  INVALID_SPANID, INVALID_TRACEID, ROOT_CONTEXT, SpanStatusCode, trace, TraceFlags, type Attributes, type Context, type Link, type Span, type SpanContext, type SpanKind,
  type TimeInput, type Tracer, type TracerProvider,
} from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { z } from 'zod';
import { loadConfig, type Env } from './config.js';
import { BrokerError } from './errors.js';
import type { TraceHeaders } from './trace-context.js';
import { attributesOf, TIME_ORIGIN, type FixedKeys, type FixedValues } from './tracing-wire.js';

export { FixedKeys, type FixedValues } from './tracing-wire.js';

/**
 * OpenTelemetry traces (issue 18). Off unless an exporter is configured through the standard
 * `OTEL_*` variables; then the components get a `Tracing` holding a tracer from a provider of
 * their own, never registered globally (no context manager, no global provider): parents are
 * passed explicitly as W3C headers, so tests can inject a provider with an in-memory exporter
 * and nothing leaks between them. Off, `tracer` is undefined and the components only copy the
 * trace headers along (core/trace-context.ts). What travels where: docs/tracing.md.
 */
export interface Tracing {
  readonly tracer: Tracer | undefined;
}

export const TRACING_OFF: Tracing = Object.freeze({ tracer: undefined });

const TRACER_NAME = 'kafka-broker';

export function tracingFrom(provider: TracerProvider): Tracing {
  return { tracer: provider.getTracer(TRACER_NAME) };
}

// ---- spans

/**
 * Attribute names. HTTP and URL are stable semantic conventions; CloudEvents and messaging are
 * still incubating there (their entry point is large), so they are spelled out here.
 */
export const ATTR = {
  eventId: 'cloudevents.event_id',
  eventSource: 'cloudevents.event_source',
  eventType: 'cloudevents.event_type',
  eventSpecVersion: 'cloudevents.event_spec_version',
  messagingSystem: 'messaging.system',
  messagingOperation: 'messaging.operation.type',
  destination: 'messaging.destination.name',
  partition: 'messaging.destination.partition.id',
  offset: 'messaging.kafka.offset',
  consumerGroup: 'messaging.consumer.group.name',
  batchCount: 'messaging.batch.message_count',
  httpMethod: 'http.request.method',
  httpStatus: 'http.response.status_code',
  httpResendCount: 'http.request.resend_count',
  urlFull: 'url.full',
  urlPath: 'url.path',
  errorType: 'error.type',
  /** `<namespace>/<name>`, like the dead-letter extensions (dispatcher/error-extensions.ts). */
  trigger: 'knative.trigger',
  subscription: 'knative.subscription',
  broker: 'knative.broker',
  filterMatched: 'kafka_broker.filter.matched',
} as const;

/**
 * The context a span continues: the remote parent in `parent`, or none (a new trace). `parent`
 * was checked when it was read (core/trace-context.ts), so it is taken apart here by position
 * rather than parsed again by the SDK's propagator (about a microsecond a span).
 */
export function contextOf(parent: TraceHeaders | undefined): Context {
  return parent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, spanContextOf(parent));
}

/**
 * The remote parent of `parent`'s spans, taken apart once: a caller that starts several spans
 * under the same headers (the dispatcher: filter, then each attempt) keeps it and passes it to
 * startSpanUnder rather than the headers, which startSpan would take apart again for each.
 */
export function remoteParent(parent: TraceHeaders | undefined): SpanContext | undefined {
  return parent === undefined ? undefined : spanContextOf(parent);
}

function spanContextOf(parent: TraceHeaders): SpanContext {
  const traceparent = parent.traceparent;
  const context: SpanContext = {
    traceId: traceparent.slice(3, 35),
    spanId: traceparent.slice(36, 52),
    traceFlags: (hexDigit(traceparent.charCodeAt(53)) << 4) | hexDigit(traceparent.charCodeAt(54)),
    isRemote: true,
  };
  if (parent.tracestate !== undefined) context.traceState = new TraceState(parent.tracestate);
  return context;
}

/** A checked lower-case hex digit's value (no slice and parseInt for the two of the flags). */
const hexDigit = (c: number): number => (c <= 0x39 ? c - 0x30 : c - 0x57);

/** The lean tracer's way in (core/tracing-tracer.ts): the parent as a span context, no Context per span. */
interface DirectTracer {
  startSpanFrom(
    name: string, kind: SpanKind, parent: SpanContext | undefined, attributes: Attributes | undefined, links: Link[] | undefined, startTime: TimeInput | undefined,
    fixedKeys?: FixedKeys, fixedValues?: FixedValues,
  ): Span;
}

const direct = (tracer: Tracer): DirectTracer | undefined =>
  typeof (tracer as Partial<DirectTracer>).startSpanFrom === 'function' ? tracer as unknown as DirectTracer : undefined;

/** A link to another context (e.g. the producer's, from the CloudEvents extension). */
export function linkTo(headers: TraceHeaders): Link | undefined {
  const context = trace.getSpanContext(contextOf(headers));
  return context === undefined ? undefined : { context };
}

export interface SpanOptions {
  /** Build one per span: the span may keep this object as its own (core/tracing-tracer.ts). */
  readonly attributes?: Attributes;
  readonly links?: Link[];
  readonly startTime?: TimeInput;
}

export function startSpan(tracer: Tracer, name: string, kind: SpanKind, parent: TraceHeaders | undefined, options: SpanOptions = {}): Span {
  return startSpanUnder(tracer, name, kind, remoteParent(parent), options);
}

/** startSpan with the parent already taken apart (remoteParent). */
export function startSpanUnder(tracer: Tracer, name: string, kind: SpanKind, parent: SpanContext | undefined, options: SpanOptions = {}): Span {
  const lean = direct(tracer);
  if (lean !== undefined) return lean.startSpanFrom(name, kind, parent, options.attributes, options.links, options.startTime);
  return tracer.startSpan(name, { kind, attributes: options.attributes, links: options.links, startTime: options.startTime }, parent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, parent));
}

/**
 * startSpanUnder with attributes of fixed names: `values` in the order of `keys` (undefined: not
 * set), one array per span, which the span keeps. The lean tracer's spans go to the export worker
 * with no attribute object made (core/tracing-wire.ts); another tracer gets one. A key left
 * undefined here may be set later by setAttribute (e.g. a status code) at no extra cost.
 */
export function startSpanFixed(
  tracer: Tracer, name: string, kind: SpanKind, parent: SpanContext | undefined, keys: FixedKeys, values: FixedValues, startTime?: number, links?: Link[],
): Span {
  const lean = direct(tracer);
  if (lean !== undefined) return lean.startSpanFrom(name, kind, parent, undefined, links, startTime, keys, values);
  return tracer.startSpan(name, { kind, attributes: attributesOf(keys, values), links, startTime }, parent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, parent));
}

/** A span in the same process as its parent. */
export function startChildSpan(tracer: Tracer, name: string, kind: SpanKind, parent: Span, options: SpanOptions = {}): Span {
  const lean = direct(tracer);
  // A span of ours has a valid context, unless it is the API's non-recording span (sampled out).
  if (lean !== undefined && parent.isRecording()) return lean.startSpanFrom(name, kind, parent.spanContext(), options.attributes, options.links, options.startTime);
  return tracer.startSpan(name, { kind, attributes: options.attributes, links: options.links, startTime: options.startTime }, trace.setSpan(ROOT_CONTEXT, parent));
}

/** The span's context as the headers the next hop continues from (W3C Trace Context, version 00). */
export function headersOf(span: Span): TraceHeaders | undefined {
  const context = span.spanContext();
  // Our tracers' ids are generated hex or come from a checked traceparent: only the API's invalid
  // context (a no-op tracer's span) needs ruling out, without the regular expressions of
  // isSpanContextValid (two per span, at 100 % sampling).
  if (context.traceId === INVALID_TRACEID || context.spanId === INVALID_SPANID || context.traceId.length !== 32 || context.spanId.length !== 16) return undefined;
  const f = context.traceFlags;
  const flags = f === TraceFlags.SAMPLED ? '01' : f === TraceFlags.NONE ? '00' : (f & 0xff).toString(16).padStart(2, '0');
  const traceparent = `00-${context.traceId}-${context.spanId}-${flags}`;
  const tracestate = context.traceState?.serialize();
  return tracestate === undefined || tracestate === '' ? { traceparent } : { traceparent, tracestate };
}

/**
 * Ends a span, as failed when `error` says why (`errorType`: a low-cardinality class of it);
 * `endTime` (spanStartTime()) when spans ending together share one clock reading.
 */
export function endSpan(span: Span, error?: { readonly type: string; readonly message: string }, endTime?: number): void {
  if (error !== undefined) {
    span.setAttribute(ATTR.errorType, error.type);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  }
  span.end(endTime);
}

/**
 * Now, as milliseconds since the epoch in the SDK's clock: a start time taken before the parent
 * is known (e.g. before decoding), or one end time shared by spans that end together.
 */
export function spanStartTime(): number {
  return TIME_ORIGIN + performance.now();
}

// ---- configuration (the standard OTEL_* variables)

const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const;
export type SamplerName = (typeof SAMPLERS)[number];
const EXPORTERS = ['otlp', 'console', 'none'] as const;

const listOf = (text: string): string[] => text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);

const tracingEnvSchema = z.object({
  OTEL_SDK_DISABLED: z.string().transform((s) => s.toLowerCase() === 'true').optional(),
  OTEL_TRACES_EXPORTER: z.string().transform(listOf).pipe(z.array(z.enum(EXPORTERS))).optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().refine((u) => /^https?:/.test(u), 'expected an http(s) URL').optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.string().url().refine((u) => /^https?:/.test(u), 'expected an http(s) URL').optional(),
  // The one exporter installed speaks OTLP over HTTP with protobuf.
  OTEL_EXPORTER_OTLP_PROTOCOL: z.literal('http/protobuf', { errorMap: () => ({ message: "only 'http/protobuf' is supported" }) }).optional(),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: z.literal('http/protobuf', { errorMap: () => ({ message: "only 'http/protobuf' is supported" }) }).optional(),
  OTEL_SERVICE_NAME: z.string().optional(),
  OTEL_TRACES_SAMPLER: z.enum(SAMPLERS).optional(),
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).optional(),
  OTEL_RESOURCE_ATTRIBUTES: z.string().optional(),
  OTEL_BSP_MAX_QUEUE_SIZE: z.coerce.number().int().min(1).optional(),
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: z.coerce.number().int().min(1).optional(),
});

export interface TracingSettings {
  readonly exporters: readonly ('otlp' | 'console')[];
  /** Where OTLP spans go (OTLP/HTTP, protobuf). */
  readonly otlpTracesUrl: string;
  readonly serviceName: string;
  readonly sampler: SamplerName;
  /** For the ratio samplers, in [0, 1]. */
  readonly samplerRatio: number;
  readonly resourceAttributes: readonly (readonly [string, string])[];
  /** The batch span processor's bounds (OTEL_BSP_*; its delay and timeout the SDK reads itself). */
  readonly batch: { readonly maxQueueSize: number; readonly maxExportBatchSize: number };
}

/**
 * Larger than the SDK's 2048 and 512: at 100 % sampling a busy ingress ends some 20,000 spans a
 * second, which fill 2048 between two exports and are then dropped; bigger batches also mean
 * fewer export requests. At most this many finished spans wait in memory (a few MiB).
 */
const BATCH_DEFAULTS = { maxQueueSize: 16_384, maxExportBatchSize: 2048 } as const;

/** The OTLP/HTTP default (OpenTelemetry exporter spec). */
const DEFAULT_OTLP_BASE = 'http://localhost:4318';

/**
 * Tracing settings from the environment, or undefined when tracing is off: OTEL_SDK_DISABLED,
 * OTEL_TRACES_EXPORTER=none, or no exporter configured. The OpenTelemetry default exporter is
 * otlp; here it is none unless an OTLP endpoint is set, so that a broker started without any
 * OTEL_* variable sends nothing anywhere. Empty values count as unset (as the spec says).
 * An invalid value is a CONFIG_INVALID error naming the variable.
 */
export function tracingSettingsFromEnv(env: Env, defaultServiceName: string): TracingSettings | undefined {
  const input: Record<string, string> = {};
  for (const name of Object.keys(tracingEnvSchema.shape)) {
    const value = env[name]?.trim();
    if (value !== undefined && value !== '') input[name] = value;
  }
  const parsed = loadConfig(tracingEnvSchema, input);
  if (parsed.OTEL_SDK_DISABLED === true) return undefined;
  const endpointSet = parsed.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined || parsed.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined;
  const named = parsed.OTEL_TRACES_EXPORTER ?? (endpointSet ? ['otlp' as const] : []);
  const exporters = [...new Set(named.filter((e) => e !== 'none'))] as ('otlp' | 'console')[];
  if (exporters.length === 0) return undefined;
  const base = (parsed.OTEL_EXPORTER_OTLP_ENDPOINT ?? DEFAULT_OTLP_BASE).replace(/\/+$/, '');
  return {
    exporters,
    // The signal-specific endpoint is used as given; the base one gets the signal's path.
    otlpTracesUrl: parsed.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? `${base}/v1/traces`,
    serviceName: parsed.OTEL_SERVICE_NAME ?? defaultServiceName,
    sampler: parsed.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on',
    samplerRatio: parsed.OTEL_TRACES_SAMPLER_ARG ?? 1,
    resourceAttributes: parseResourceAttributes(parsed.OTEL_RESOURCE_ATTRIBUTES ?? ''),
    batch: {
      maxQueueSize: parsed.OTEL_BSP_MAX_QUEUE_SIZE ?? BATCH_DEFAULTS.maxQueueSize,
      maxExportBatchSize: Math.min(parsed.OTEL_BSP_MAX_EXPORT_BATCH_SIZE ?? BATCH_DEFAULTS.maxExportBatchSize, parsed.OTEL_BSP_MAX_QUEUE_SIZE ?? BATCH_DEFAULTS.maxQueueSize),
    },
  };
}

/** `key1=value1,key2=value2`, values percent-decoded (OpenTelemetry resource SDK spec). */
export function parseResourceAttributes(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const pair of listOf(text)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new BrokerError('CONFIG_INVALID', `invalid configuration: OTEL_RESOURCE_ATTRIBUTES: expected key=value[,key=value...], got "${pair}"`);
    let value = pair.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      throw new BrokerError('CONFIG_INVALID', `invalid configuration: OTEL_RESOURCE_ATTRIBUTES: "${pair}" has an invalid percent-encoding`);
    }
    out.push([pair.slice(0, eq).trim(), value]);
  }
  return out;
}

export interface RunningTracing {
  readonly tracing: Tracing;
  /** Exports the spans ended so far and waits until they are sent (or failed); tracing goes on. */
  flush(): Promise<void>;
  /** Flushes the spans still buffered and stops the exporters. */
  shutdown(): Promise<void>;
}

/**
 * Starts the SDK for these settings (undefined: tracing off, nothing started). The SDK and
 * exporter are loaded here, on demand, so that a process with tracing off never loads them.
 */
export async function startTracing(settings: TracingSettings | undefined): Promise<RunningTracing> {
  if (settings === undefined) return { tracing: TRACING_OFF, flush: () => Promise.resolve(), shutdown: () => Promise.resolve() };
  const [sdk, { WorkerSpanProcessor }, { LeanTracer, PooledIdGenerator }, { resourceFromAttributes }, { ATTR_SERVICE_NAME }] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('./tracing-export.js'),
    import('./tracing-tracer.js'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions'),
  ]);
  const root = (): InstanceType<typeof sdk.AlwaysOnSampler> | InstanceType<typeof sdk.AlwaysOffSampler> | InstanceType<typeof sdk.TraceIdRatioBasedSampler> => {
    switch (settings.sampler) {
      case 'always_on':
      case 'parentbased_always_on':
        return new sdk.AlwaysOnSampler();
      case 'always_off':
      case 'parentbased_always_off':
        return new sdk.AlwaysOffSampler();
      case 'traceidratio':
      case 'parentbased_traceidratio':
        return new sdk.TraceIdRatioBasedSampler(settings.samplerRatio);
      default: {
        const never: never = settings.sampler;
        return never;
      }
    }
  };
  const sampler = settings.sampler.startsWith('parentbased_') ? new sdk.ParentBasedSampler({ root: root() }) : root();
  // fromEntries defines own properties: a key such as __proto__ stays a plain attribute.
  const attributes = { ...Object.fromEntries(settings.resourceAttributes), [ATTR_SERVICE_NAME]: settings.serviceName };
  const resource = resourceFromAttributes(attributes);
  // OTLP: encoded and sent by a worker thread (core/tracing-export.ts), off the event loop.
  const exportWorker = () => WorkerSpanProcessor.start({ url: settings.otlpTracesUrl, batch: { ...settings.batch } });
  if (settings.exporters.length === 1 && settings.exporters[0] === 'otlp') {
    // The usual case: the lean tracer's spans go straight to the worker (core/tracing-tracer.ts).
    const worker = await exportWorker();
    const tracer = new LeanTracer(sampler, new PooledIdGenerator(), resource, { name: TRACER_NAME }, worker);
    return { tracing: { tracer }, flush: () => worker.forceFlush(), shutdown: () => worker.shutdown() };
  }
  const spanProcessors = await Promise.all(settings.exporters.map((name) => name === 'otlp' ? exportWorker() : new sdk.SimpleSpanProcessor(new sdk.ConsoleSpanExporter())));
  const provider = new sdk.BasicTracerProvider({ resource, sampler, spanProcessors });
  return { tracing: tracingFrom(provider), flush: () => provider.forceFlush(), shutdown: () => provider.shutdown() };
}
