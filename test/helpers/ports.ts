import { freePorts } from '../../scripts/net/ports.js';

/** A port nothing listens on (it was free a moment ago): for commands that take a fixed port. */
export { freePort, freePorts } from '../../scripts/net/ports.js';

/**
 * Whether an error (or what a process printed) says a port was taken: Node's EADDRINUSE, the
 * broker's "port N is already in use", or another program's "address already in use".
 */
export function isPortTaken(error: unknown): boolean {
  const text = error instanceof Error ? `${error.message} ${(error as NodeJS.ErrnoException).code ?? ''}` : String(error);
  return /EADDRINUSE|already in use/i.test(text);
}

/**
 * Runs `start` on `count` ports free a moment ago, and again on other ones when it fails because
 * one was taken in between: on a busy machine another process, or an outgoing connection given
 * the same port by the kernel, can take it before the program under test listens. `start` must
 * undo what it started before it throws. Use it only where the program cannot listen on port 0
 * and report its port.
 */
export async function onFreePorts<T>(count: number, start: (ports: number[]) => Promise<T>, attempts = 4): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const ports = await freePorts(count);
    try {
      return await start(ports);
    } catch (error) {
      if (attempt >= attempts || !isPortTaken(error)) throw error;
    }
  }
}
