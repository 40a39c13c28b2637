/** Record batch attributes (RecordBatch v2): bit 3 set when Kafka stamped the batch at append. */
const LOG_APPEND_TIME = 0x08;

/** The fields of a record batch this reads (as @platformatic/kafka decodes it). */
export interface BatchTimes {
  readonly attributes: number;
  readonly firstTimestamp: bigint;
  readonly maxTimestamp: bigint;
}

/**
 * A function from a record's timestampDelta to its time (ms since the epoch). On a topic with
 * message.timestamp.type=LogAppendTime Kafka writes the append time into the batch's maxTimestamp
 * and flags the batch, leaving the producer's times in the records: every record of it then has
 * the batch's maxTimestamp, as Kafka's own consumer (and kafkajs) read it.
 */
export function recordTimes(batch: BatchTimes): (timestampDelta: bigint) => number {
  if ((batch.attributes & LOG_APPEND_TIME) !== 0) {
    const appended = Number(batch.maxTimestamp);
    return () => appended;
  }
  const first = Number(batch.firstTimestamp);
  return (timestampDelta) => first + Number(timestampDelta);
}
