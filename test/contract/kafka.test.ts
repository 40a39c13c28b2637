import { kafkaEventLog } from '../helpers/kafka.js';
import { describeEventLog } from './event-log.suite.js';

describeEventLog('kafka (kafkajs client)', { timeoutMs: 45_000, create: (t) => kafkaEventLog(t, 'contract-suite', 'kafkajs') });
