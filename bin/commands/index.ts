/**
 * The subcommands, registered in the order `--help` lists them. Each loads its module lazily so
 * that `--help` stays fast.
 */
import { registerCommand } from '../cli.js';

registerCommand('start', {
  summary: 'run the controller, ingress and dispatcher on a folder of manifests (in memory, or on Kafka)',
  load: () => import('./start.js'),
});
registerCommand('get', {
  summary: 'list brokers, triggers, channels, subscriptions... with their status from a running `start` (table, json, yaml)',
  load: () => import('./get.js'),
});
registerCommand('describe', {
  summary: 'show one broker, trigger, ... in detail: spec, addresses, conditions, recent dead letters',
  load: () => import('./describe.js'),
});
registerCommand('dead-letters', {
  summary: 'list, show and replay the dead letters held by KafkaSinks, from a running `start`',
  load: () => import('./dead-letters.js'),
});
registerCommand('triggers', {
  summary: "rewind or skip a trigger's position in its broker's events (re-deliver from a time, or skip ahead)",
  load: () => import('./triggers.js'),
});
registerCommand('tail', {
  summary: "follow a broker's events live, as CloudEvents (all, a trigger's, or a CESQL filter's), moving no consumer group",
  load: () => import('./tail.js'),
});
registerCommand('controller', {
  summary: 'run the controller against a Kubernetes API server (leader election; serves the contract)',
  load: () => import('./controller.js'),
});
registerCommand('ingress', {
  summary: 'run the broker ingress on its own, reading the contract from the controller (--contract-url)',
  load: () => import('./ingress.js'),
});
registerCommand('dispatcher', {
  summary: 'run the dispatcher on its own, reading the contract from the controller (--contract-url)',
  load: () => import('./dispatcher.js'),
});
