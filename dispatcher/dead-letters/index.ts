/**
 * Dead letters you can see: the events that KafkaSinks of the current contract hold with
 * Knative's dead-letter marks (`knativeerrordest`, …, see ../error-extensions.ts), listed, shown
 * and replayed. `kafka-broker start` registers the routes (routes.ts) on its admin server; the CLI
 * (`kafka-broker dead-letters`) and the page at /dead-letters (page.ts) are clients of them.
 *
 *   records.ts         reads the sinks' topics, moving no consumer group; what is a dead letter
 *   query.ts           the list's filters and the replay body, checked
 *   service.ts         list, show and replay
 *   replay.ts          one dead letter through the dispatcher's pipeline
 *   replay-records.ts  which dead letters were replayed, kept in a compacted topic
 *
 * Ids: a dead letter is named by its event id (what the table shows) or, exactly, by its position
 * `<sink namespace>/<sink name>/<partition>/<offset>` (its `ref`). One event can be dead-lettered
 * more than once — by two triggers, or again after a replay that failed — so an event id may
 * name several dead letters.
 */

export { registerDeadLetterRoutes } from './routes.js';
export { DeadLetterService, type DeadLetterServiceDeps } from './service.js';
export type * from './types.js';
