import { kafkaEventLog } from '../helpers/kafka.js';
import { describeEventLog } from './event-log.suite.js';

// The Kafka adapter with appends and consumer groups on @platformatic/kafka (admin on kafkajs).
describeEventLog('kafka (platformatic client)', { timeoutMs: 45_000, create: (t) => kafkaEventLog(t, 'contract-suite-plt', 'platformatic') });
