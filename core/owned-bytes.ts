/**
 * Bytes read from a Kafka Fetch response are views of the whole response (up to about 1 MiB):
 * one view kept keeps all of it alive. What is kept for long (a record waiting to be delivered
 * again) is copied into memory of its own first.
 */

/**
 * `bytes` itself when it owns most of its memory, else a copy of it. A small view of Node's
 * 8 KiB pool (Buffer.poolSize) is kept as it is: that much is shared by every small Buffer.
 */
export function ownBytes(bytes: Buffer): Buffer {
  return bytes.buffer.byteLength <= Math.max(Buffer.poolSize, 2 * bytes.byteLength) ? bytes : Buffer.from(bytes);
}

