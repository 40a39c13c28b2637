import { MemoryEventLog } from '../../core/event-log/memory.js';
import { describeEventLog } from './event-log.suite.js';

describeEventLog('memory', {
  // Only how long a failing wait takes: a loaded 2-core CI machine can stall a process for seconds.
  timeoutMs: 15_000,
  create: (t) => {
    const log = new MemoryEventLog();
    t.after(() => log.close());
    return log;
  },
});
