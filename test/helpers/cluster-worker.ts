import { createServer } from 'node:net';

/**
 * A worker process for the tests of `superviseWorkers` (forked with node:cluster), in the role
 * `TEST_WORKER_ROLE` names:
 * - `serves`: catches SIGTERM, then listens; on SIGTERM it closes its server and exits 0, as a Herald
 *   worker does;
 * - `starting`: never gets as far as catching SIGTERM or listening, like a worker Node is still loading;
 * - `unguarded`: listens without catching SIGTERM, so the signal ends it.
 */
const role = process.env.TEST_WORKER_ROLE;
const server = createServer();
switch (role) {
  case 'serves':
    process.once('SIGTERM', () => server.close(() => process.exit(0)));
    server.listen(0, '127.0.0.1');
    break;
  case 'starting':
    setInterval(() => {}, 60_000);
    break;
  case 'unguarded':
    server.listen(0, '127.0.0.1');
    break;
  default:
    throw new Error(`unknown TEST_WORKER_ROLE ${String(role)}`);
}
