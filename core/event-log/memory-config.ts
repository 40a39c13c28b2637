import { z } from 'zod';
import { loadConfig, type Env } from '../config.js';

/**
 * The in-memory event log's settings: how much it keeps. Like Kafka's `retention.bytes` and
 * `retention.ms`, records past either bound are removed from the head of their partition; unlike
 * Kafka's per-partition `retention.bytes`, the byte bound is for the whole log, because what it
 * protects is one process's memory, however many brokers and partitions a developer creates.
 */
export const memoryLogConfigSchema = z
  .object({
    /**
     * Bytes of records (values, keys, headers) kept over all topics; the oldest go first.
     * 256 MiB: hours of a busy developer's traffic, a small part of a laptop's memory, and below
     * Node's default heap limit with room for everything else the process holds.
     */
    retentionBytes: z.coerce.number().int().min(1024).default(256 * 1024 * 1024),
    /**
     * Age past which a record is removed. 24 h: a dev broker left running overnight still has
     * yesterday's events to replay or inspect, and one that runs for days does not keep them all.
     */
    retentionMs: z.coerce.number().int().min(1).default(24 * 60 * 60 * 1000),
  })
  .strict();

export type MemoryLogConfig = Readonly<z.infer<typeof memoryLogConfigSchema>>;

/** Reads the settings from `EVENT_LOG_MEMORY_RETENTION_BYTES` and `EVENT_LOG_MEMORY_RETENTION_MS`. */
export function memoryLogConfigFromEnv(env: Env): MemoryLogConfig {
  const pick = (name: string): string | undefined => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  return loadConfig(memoryLogConfigSchema, {
    retentionBytes: pick('EVENT_LOG_MEMORY_RETENTION_BYTES'),
    retentionMs: pick('EVENT_LOG_MEMORY_RETENTION_MS'),
  });
}
