import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';

/** The wait before a worker that died is replaced. */
const REPLACE_DELAY_MS = 1000;

/**
 * `herald start --workers N`: this process forks N workers, each a whole node of the cluster, all on
 * the same port (this process hands each new connection to the next worker in turn). A worker that
 * dies is replaced, as happens when an error nothing handled ends it (`exitOnUnhandledErrors`, which
 * this process installs too); a worker that dies before it ever listened means the configuration
 * cannot work, so everything stops. SIGTERM or SIGINT stops every worker the way it stops a single node, and resolves
 * with the exit code: 0 once all stopped cleanly, 1 otherwise. A worker still starting when the stop comes
 * may be ended by the signal before it can catch it (Node is still loading it): it never listened, so it
 * served no one, and that is a clean stop too. One that listened catches it (it does before it listens).
 * With `forwardSighup`, SIGHUP is passed on to every worker (each re-reads its certificate files).
 *
 * A worker has started once it listens on its `listeners` addresses (the public port first, then the
 * admin listener's and the RawSocket listener's); `listening(ports)` is called once, with their ports,
 * when the first worker has.
 * `fork` starts one worker.
 */
export function superviseWorkers(
  count: number,
  logger: Logger,
  listening: (ports: readonly number[]) => void,
  options: { listeners?: number; forwardSighup?: boolean; fork?: () => Worker } = {},
): Promise<number> {
  const listeners = options.listeners ?? 1;
  const fork = options.fork ?? (() => cluster.fork());
  const live = new Set<Worker>();
  const listened = new Set<Worker>();
  let stopping = false;
  let failed = false;
  let announced = false;
  const replacements = new Set<NodeJS.Timeout>();

  return new Promise((resolve) => {
    const start = () => {
      const worker = fork();
      live.add(worker);
      const ports: number[] = [];
      const onListening = (address: { port: number }) => {
        ports.push(address.port);
        if (ports.length < listeners) return;
        worker.off('listening', onListening);
        listened.add(worker);
        if (!announced) {
          announced = true;
          listening(ports);
        }
      };
      worker.on('listening', onListening);
      worker.once('exit', (code, signal) => {
        live.delete(worker);
        const pid = worker.process.pid;
        if (stopping) {
          const endedWhileStarting = !listened.has(worker) && (signal === 'SIGTERM' || signal === 'SIGINT');
          if (code !== 0 && !endedWhileStarting) {
            logger.error({ pid, code, signal }, 'a worker did not stop cleanly');
            failed = true;
          }
        } else if (!listened.has(worker)) {
          logger.fatal({ pid, code, signal }, 'a worker could not start: stopping');
          failed = true;
          stop();
        } else {
          logger.error({ pid, code, signal }, 'a worker died: starting another');
          const timer = setTimeout(() => {
            replacements.delete(timer);
            if (!stopping) start();
          }, REPLACE_DELAY_MS);
          replacements.add(timer);
        }
        if (stopping && live.size === 0) done();
      });
    };

    const stop = (signal?: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      if (signal) logger.info({ signal, workers: live.size }, 'shutting down the workers');
      for (const timer of replacements) clearTimeout(timer);
      replacements.clear();
      for (const worker of live) worker.process.kill('SIGTERM');
      if (live.size === 0) done();
    };
    const reload = () => {
      for (const worker of live) worker.process.kill('SIGHUP');
    };
    const done = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      process.off('SIGHUP', reload);
      resolve(failed ? 1 : 0);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    if (options.forwardSighup) process.on('SIGHUP', reload);

    logger.info({ workers: count }, `starting ${count} workers`);
    for (let i = 0; i < count; i++) start();
  });
}
