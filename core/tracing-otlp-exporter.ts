import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { ExportResult } from '@opentelemetry/core';
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
import { otlpTraceRequest, type EncodedSpan } from './tracing-otlp.js';

/**
 * The OTLP/HTTP protobuf trace exporter for spans already encoded (core/tracing-otlp.ts): the
 * SDK's own exporter (@opentelemetry/exporter-trace-otlp-proto) with its serializer replaced.
 * Everything else is the SDK's: the endpoint given, and from OTEL_EXPORTER_OTLP_[TRACES_]* the
 * headers, timeout and compression; retries of failed requests; the limit on concurrent exports.
 */
export function otlpExporter(url: string): SpanExporter {
  const delegate = createOtlpHttpExportDelegate(
    convertLegacyHttpOptions({ url }, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' }),
    {
      serializeRequest: (spans: EncodedSpan[]) => otlpTraceRequest(spans),
      // The exporter only logs a response's partial success; an empty one says nothing.
      deserializeResponse: () => ({}),
    },
    'otlp_http_span_exporter',
    { name: 'span', countItems: (spans: EncodedSpan[]) => spans.length },
    undefined,
  );
  const base = new OTLPExporterBase<EncodedSpan[]>(delegate);
  return {
    export: (spans: ReadableSpan[], done: (result: ExportResult) => void) => base.export(spans as unknown as EncodedSpan[], done),
    shutdown: () => base.shutdown(),
    forceFlush: () => base.forceFlush(),
  };
}
