import { CONTRACT_VERSION, type Contract, type Egress, type EgressConfig, type Resource } from '../../core/contract/types.js';
import { brokerPath, brokerTopic, triggerGroup } from '../../core/contract/paths.js';

/** Test data builders: sensible defaults, override what the test is about. */
export function makeEgressConfig(overrides: Partial<EgressConfig> = {}): EgressConfig {
  return { retry: 0, backoffPolicy: 'exponential', backoffDelayMs: 10, timeoutMs: null, deadLetter: null, retryAfterMaxMs: null, ...overrides };
}

export function makeEgress(name: string, overrides: Partial<Egress> = {}, namespace = 'default'): Egress {
  return {
    uid: `trigger-${namespace}-${name}`,
    reference: { kind: 'Trigger', namespace, name, uid: `trigger-${namespace}-${name}` },
    consumerGroup: triggerGroup(namespace, name),
    destination: 'http://127.0.0.1:1/',
    reply: { kind: 'topic' },
    filter: null,
    deliveryOrder: 'unordered',
    contentMode: 'binary',
    egressConfig: null,
    ...overrides,
  };
}

export function makeBroker(name: string, egresses: Egress[] = [], overrides: Partial<Resource> = {}, namespace = 'default'): Resource {
  return {
    uid: `broker-${namespace}-${name}`,
    kind: 'Broker',
    reference: { kind: 'Broker', namespace, name, uid: `broker-${namespace}-${name}` },
    topics: [brokerTopic(namespace, name)],
    ingress: { path: brokerPath(namespace, name), contentMode: 'binary' },
    egressConfig: null,
    egresses,
    ...overrides,
  };
}

export function makeContract(resources: Resource[], generation = 1): Contract {
  return { version: CONTRACT_VERSION, generation, resources };
}
