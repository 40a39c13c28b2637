/** A port nothing listens on (it was free a moment ago): for commands that take a fixed port. */
export { freePort } from '../../scripts/net/ports.js';
