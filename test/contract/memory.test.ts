import { MemoryEventLog } from '../../core/event-log/memory.js';
import { describeEventLog } from './event-log.suite.js';

describeEventLog('memory', {
  timeoutMs: 5000,
  create: (t) => {
    const log = new MemoryEventLog();
    t.after(() => log.close());
    return log;
  },
});
