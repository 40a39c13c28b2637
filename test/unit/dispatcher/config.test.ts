import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dispatcherConfigFromEnv, dispatcherConfigSchema } from '../../../dispatcher/config.js';

describe('dispatcher configuration', () => {
  test('every setting has a default', () => {
    const config = dispatcherConfigSchema.parse({});
    assert.equal(config.maxInFlightPerEgress, 50);
    assert.equal(config.shutdownDeadlineMs, 30_000);
    assert.ok(config.defaultTimeoutMs > 0);
    assert.ok(config.commitIntervalMs > 0);
    assert.ok(config.maxStallBackoffMs >= config.stallBackoffBaseMs);
    assert.equal(config.maxRetryAfterMs, 5 * 60_000);
    assert.equal(config.maxWaitingBytes, 256 * 1024 * 1024);
  });

  test('read from the environment, frozen', () => {
    const config = dispatcherConfigFromEnv({ DISPATCHER_MAX_IN_FLIGHT_PER_EGRESS: '200', DISPATCHER_SHUTDOWN_DEADLINE_MS: '5000', DISPATCHER_DEFAULT_TIMEOUT_MS: '' });
    assert.equal(config.maxInFlightPerEgress, 200);
    assert.equal(config.shutdownDeadlineMs, 5000);
    assert.equal(config.defaultTimeoutMs, dispatcherConfigSchema.parse({}).defaultTimeoutMs);
    assert.equal(dispatcherConfigFromEnv({ DISPATCHER_MAX_RETRY_AFTER_MS: '1000' }).maxRetryAfterMs, 1000);
    assert.equal(dispatcherConfigFromEnv({ DISPATCHER_MAX_WAITING_BYTES: '1048576' }).maxWaitingBytes, 1_048_576);
    assert.ok(Object.isFrozen(config));
  });

  test('a bad value is a CONFIG_INVALID error naming the setting', () => {
    assert.throws(() => dispatcherConfigFromEnv({ DISPATCHER_MAX_IN_FLIGHT_PER_EGRESS: '0' }), (error: { code?: string; message: string }) => {
      assert.equal(error.code, 'CONFIG_INVALID');
      assert.match(error.message, /maxInFlightPerEgress/);
      return true;
    });
    assert.throws(() => dispatcherConfigSchema.parse({ unknownSetting: 1 }));
  });
});
