import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import kafkajs from 'kafkajs';
import { BrokerError } from '../../../../../core/errors.js';
import { groupErrorTypes, isLiveGroupError, kafkaErrorType, unavailable } from '../../../../../core/event-log/kafka/errors.js';

/**
 * kafkajs's errors as the adapter meets them, built with kafkajs's own classes: a protocol error
 * (one row of Kafka's error-code table), alone or under kafkajs's retry wrappers.
 */

const { KafkaJSProtocolError, KafkaJSNumberOfRetriesExceeded, KafkaJSNonRetriableError, KafkaJSError, KafkaJSDeleteGroupsError } = kafkajs;

type ProtocolError = InstanceType<typeof KafkaJSProtocolError>;

/** As kafkajs builds one from a response's error code (its typings take only a message). */
const protocol = (type: string, code: number, message: string, retriable = false): ProtocolError =>
  new KafkaJSProtocolError({ type, code, message, retriable } as unknown as string);

/** As kafkajs's retrier wraps an error it does not retry. */
const nonRetriable = (cause: Error): Error => Reflect.construct(KafkaJSNonRetriableError, [cause, { cause }]) as Error;

const unknownTopic = (): Error => protocol('UNKNOWN_TOPIC_OR_PARTITION', 3, 'This server does not host this topic-partition', true);
const afterRetries = (cause: Error): Error => new KafkaJSNumberOfRetriesExceeded(cause, { retryCount: 3, retryTime: 2000 });

describe('kafkaErrorType', () => {
  const cases: [string, unknown, string | undefined][] = [
    ['a protocol error', unknownTopic(), 'UNKNOWN_TOPIC_OR_PARTITION'],
    ['under retries exceeded (what a send to a deleted topic fails with)', afterRetries(unknownTopic()), 'UNKNOWN_TOPIC_OR_PARTITION'],
    ['under a non-retriable wrapper', nonRetriable(unknownTopic()), 'UNKNOWN_TOPIC_OR_PARTITION'],
    ['under our LOG_UNAVAILABLE', unavailable('cannot connect to Kafka', afterRetries(unknownTopic())), 'UNKNOWN_TOPIC_OR_PARTITION'],
    ['a message that reads like one, with no protocol error', new KafkaJSError('This server does not host this topic-partition'), undefined],
    ['not an error', 'boom', undefined],
  ];
  for (const [name, error, expected] of cases) test(`${name} → ${String(expected)}`, () => assert.equal(kafkaErrorType(error), expected));
});

describe('isLiveGroupError', () => {
  const cases: [string, unknown, boolean][] = [
    ['INCONSISTENT_GROUP_PROTOCOL (23): a live member of another protocol', protocol('INCONSISTENT_GROUP_PROTOCOL', 23, "The group member's supported protocols are incompatible with those of existing members"), true],
    ['GROUP_MAX_SIZE_REACHED (81), under retries', afterRetries(protocol('GROUP_MAX_SIZE_REACHED', 81, 'The consumer group has reached its max size')), true],
    ['REBALANCE_IN_PROGRESS (27)', protocol('REBALANCE_IN_PROGRESS', 27, 'The group is rebalancing, so a rejoin is needed'), false],
    ['UNKNOWN_TOPIC_OR_PARTITION (3)', unknownTopic(), false],
    ['a message naming running members, with no protocol error', new KafkaJSNonRetriableError('The consumer group must have no running instances, current state: Stable'), false],
  ];
  for (const [name, error, expected] of cases) test(`${name} → ${expected}`, () => assert.equal(isLiveGroupError(error), expected));
});

describe('groupErrorTypes and unavailable', () => {
  test('DeleteGroups reports one error per group', () => {
    const error = new KafkaJSDeleteGroupsError('Error in DeleteGroups', [
      { groupId: 'a', errorCode: 69, error: protocol('GROUP_ID_NOT_FOUND', 69, 'The group id does not exist') },
      { groupId: 'b', errorCode: 68, error: protocol('NON_EMPTY_GROUP', 68, 'The group is not empty') },
    ]);
    assert.deepEqual(groupErrorTypes(error), ['GROUP_ID_NOT_FOUND', 'NON_EMPTY_GROUP']);
    assert.deepEqual(groupErrorTypes(unknownTopic()), ['UNKNOWN_TOPIC_OR_PARTITION']);
  });

  test('a kafkajs failure becomes a retriable LOG_UNAVAILABLE that says what failed; ours pass through', () => {
    const error = unavailable('cannot create topic t', unknownTopic());
    assert.equal(error.code, 'LOG_UNAVAILABLE');
    assert.equal(error.retriable, true);
    assert.equal(error.message, 'cannot create topic t: This server does not host this topic-partition');
    const ours = new BrokerError('TOPIC_NOT_FOUND', 'topic t does not exist');
    assert.equal(unavailable('x', ours), ours);
  });
});
