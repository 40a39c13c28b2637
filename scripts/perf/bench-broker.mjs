/**
 * What the perf scripts share to run a broker under load: a free port, and the manifests of one
 * Kafka-class Broker with one Trigger (no filter) that delivers everything to a local subscriber.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';

/** A TCP port free on 127.0.0.1 right now (the OS picks it; another process may take it later). */
export function freePort() {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The YAML of a Broker `default` in `namespace` and a Trigger `trigger` on it to `http://127.0.0.1:<subscriberPort>/`. */
export function brokerAndTrigger({ namespace, trigger, subscriberPort }) {
  return `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default, namespace: ${namespace}, annotations: {eventing.knative.dev/broker.class: Kafka}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: ${trigger}, namespace: ${namespace}}
spec:
  broker: default
  subscriber: {uri: "http://127.0.0.1:${subscriberPort}/"}
`;
}

/** Writes `brokerAndTrigger(options)` to `file`. */
export function writeBrokerAndTrigger(file, options) {
  writeFileSync(file, brokerAndTrigger(options));
}
