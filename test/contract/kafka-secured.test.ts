import { KafkaEventLog } from '../../core/event-log/kafka/adapter.js';
import { kafkaClientKinds } from '../../core/event-log/kafka/client-kind.js';
import { silentLogger } from '../../core/logger.js';
import { scramSsl, startSecuredKafka } from '../helpers/secured-kafka.js';
import { describeEventLog } from './event-log.suite.js';

// The whole event-log contract over SASL_SSL (SCRAM-SHA-512, the test CA), on a secured Kafka of
// its own: security must change how the adapter connects, nothing of what it does.
const kafka = await startSecuredKafka();

for (const client of kafkaClientKinds) {
  describeEventLog(`kafka over SASL_SSL (${client})`, {
    timeoutMs: 45_000,
    create: (t) => {
      const log = new KafkaEventLog({ brokers: [kafka.saslSsl], clientId: 'contract-suite-secured', logger: silentLogger(), security: scramSsl(kafka), client });
      t.after(() => log.close());
      return log;
    },
  });
}
