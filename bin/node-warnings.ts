/**
 * kafkajs 2.2.4 (in maintenance) arms a timer with a negative delay whenever its request queue
 * empties unthrottled; Node 24 prints a TimeoutNegativeWarning on stderr for each (the timer runs
 * at once, as it always did). That warning, raised under kafkajs, is dropped so that the CLI's
 * output stays what it says; every other warning is printed as Node prints it.
 */

/** True for the one warning dropped: a negative timer delay set from kafkajs's code. */
export function isKafkajsTimerWarning(name: string | undefined, stack: string | undefined): boolean {
  return name === 'TimeoutNegativeWarning' && stack !== undefined && /[/\\]kafkajs[/\\]/.test(stack);
}

/** Installs the filter on this thread's `process` (each worker thread has its own). */
export function dropKafkajsTimerWarnings(): void {
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((warning: unknown, ...rest: unknown[]): void => {
    const name = warning instanceof Error ? warning.name : typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    if (isKafkajsTimerWarning(name, new Error().stack)) return;
    emit(warning, ...rest);
  }) as typeof process.emitWarning;
}
