/*
 * Read committed, on the client's side. A Fetch at READ_COMMITTED stops at the last stable offset
 * but still returns what aborted transactions wrote, with a list of where each aborted transaction
 * began, and the transaction markers (control batches). A consumer must drop both, as Kafka's own
 * consumer does (KIP-98): @platformatic/kafka's fetch decodes batches and does neither.
 *
 *   offset   0 c1   1 c2   2 COMMIT   3 a1   4 a2   5 ABORT   6 c3
 *   aborted: [{ producerId: 7, firstOffset: 3 }]
 *   kept:      ✓      ✓      ·          ·      ·      ·         ✓
 */

/** The fields of a record batch this reads (as @platformatic/kafka decodes it). */
export interface BatchHead {
  readonly firstOffset: bigint;
  readonly lastOffsetDelta: number;
  readonly attributes: number;
  readonly producerId: bigint;
  readonly records: readonly { readonly key: Buffer | null }[];
}

export interface AbortedTransaction {
  readonly producerId: bigint;
  readonly firstOffset: bigint;
}

/** Record batch attributes (Kafka's RecordBatch format, v2). */
const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;
/** A control record's key: int16 version, int16 type; type 0 is ABORT, 1 COMMIT. */
const ABORT_MARKER = 0;

/**
 * A predicate to call on a partition's batches in offset order: whether to hand out the batch's
 * records. Not a control batch, and not written by a transaction `aborted` lists.
 */
export function readCommitted(aborted: readonly AbortedTransaction[] | null | undefined): (batch: BatchHead) => boolean {
  // Nothing aborted in this answer (the common case): only the markers go.
  if (aborted === null || aborted === undefined || aborted.length === 0) return (batch) => (batch.attributes & CONTROL) === 0;
  const pending = [...aborted].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
  let next = 0;
  /** Producers inside an aborted transaction at this point of the partition. */
  const aborting = new Set<bigint>();
  return (batch) => {
    const last = batch.firstOffset + BigInt(batch.lastOffsetDelta);
    while (next < pending.length && pending[next]!.firstOffset <= last) aborting.add(pending[next++]!.producerId);
    if ((batch.attributes & CONTROL) !== 0) {
      // The transaction's ABORT marker ends it: that producer's later batches are its next transaction.
      const key = batch.records[0]?.key;
      if (key !== null && key !== undefined && key.length >= 4 && key.readInt16BE(2) === ABORT_MARKER) aborting.delete(batch.producerId);
      return false;
    }
    return (batch.attributes & TRANSACTIONAL) === 0 || !aborting.has(batch.producerId);
  };
}
