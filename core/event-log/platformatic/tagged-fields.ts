import { Reader } from '@platformatic/kafka';

/*
 * @platformatic/kafka (1.22, and still 1.35) reads a tagged-field section as a signed count and
 * then skips that many bytes. Kafka writes an unsigned count and then, per field, its tag, its
 * size and its data. Empty sections read the same either way; a non-empty one misaligns the rest
 * of the response. Kafka sends one whenever it names a partition's new leader, as in the
 * NOT_LEADER_OR_FOLLOWER answer to a produce or fetch on a topic created a moment ago or whose
 * leader moved: the library then fails with an out-of-bounds error, which is not retried, instead
 * of retrying a retriable one. This reads the section as the protocol defines it.
 */
export function readTaggedFieldsAsKafkaWrites(): void {
  Reader.prototype.readTaggedFields = function readTaggedFields(this: Reader): void {
    const count = this.readUnsignedVarInt();
    for (let i = 0; i < count; i++) {
      this.readUnsignedVarInt(); // the tag
      this.skip(this.readUnsignedVarInt());
    }
  };
}
