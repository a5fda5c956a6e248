import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Resolves once `condition()` holds, checking after each event-loop turn; for state that no event
 * announces (server-side counters). Fails after `ms` so a broken server cannot hang the suite.
 */
export async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await nextTurn();
  }
}
