import { inspect } from 'node:util';
import type { Logger } from 'pino';

/** The exit code of a process stopped by an error nothing handled (EX_SOFTWARE in sysexits.h). */
export const FATAL_EXIT_CODE = 70;

/**
 * Makes an error that nothing handled — a thrown exception no caller caught, a promise rejection no one
 * awaited — end the process: logged once at fatal level with its stack, then exit with
 * `FATAL_EXIT_CODE` so a supervisor (systemd, Kubernetes, `herald start --workers`) starts a fresh one.
 * Carrying on is not safe: Node's documentation ("Warning: Using 'uncaughtException' correctly")
 * says the process is in an undefined state after such an error.
 *
 * The logger's default destination writes what is still buffered synchronously when the process exits,
 * so the fatal line is not lost. Install once per process, before it starts serving.
 */
export function exitOnUnhandledErrors(logger: Logger, exit: (code: number) => void = process.exit): void {
  let failed = false;
  const fail = (err: unknown, origin: string) => {
    // A second fault while the first is being reported must not log again or race the exit.
    if (failed) return;
    failed = true;
    // Something thrown that is not an Error has no stack: say what it was instead.
    const error = err instanceof Error ? err : new Error(`${origin} of a non-Error value: ${inspect(err)}`);
    logger.fatal({ err: error, origin }, `${origin}: the process stops`);
    exit(FATAL_EXIT_CODE);
  };
  process.on('uncaughtException', (err, origin) => fail(err, origin));
  process.on('unhandledRejection', (reason) => fail(reason, 'unhandledRejection'));
}
