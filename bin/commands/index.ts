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
  summary: 'list brokers or triggers with their status from a running `start` (table, json, yaml)',
  load: () => import('./get.js'),
});
