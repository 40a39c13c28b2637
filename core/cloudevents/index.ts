export type { AttributeValue, CloudEvent, SpecVersion } from './event.js';
export { ATTRIBUTE_NAME, PARTITION_KEY, REQUIRED_ATTRIBUTES, SPEC_VERSIONS } from './event.js';
export { validateEvent, errorsOf, isRfc3339, isUriReference, isAbsoluteUri, type ValidationIssue } from './validate.js';
export {
  decodeHttp, isHttpCloudEvent, encodeHttpBinary, encodeHttpStructured, encodeHttpBatch, decodeHeaderValue, percentEncode,
  type HttpDecodeResult, type HttpHeaders, type HttpMessage,
} from './http-binding.js';
export { toKafkaRecord, fromKafkaRecord, type KafkaDecodeResult, type KafkaRecordIn } from './kafka-binding.js';
export { decodeStructuredJson, decodeBatchJson, encodeStructuredJson, encodeBatchJson, STRUCTURED_JSON, BATCH_JSON } from './json-format.js';
