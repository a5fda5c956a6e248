import type { Router } from './router.js';

/**
 * `GET /health` answers while the process runs; `GET /ready` answers 200 while the server takes new
 * clients, and 503 with the reason (`stopping` once shutdown begins, `over-memory` above
 * `maxMemoryMB`) so that a load balancer sends them elsewhere.
 */
export function addHealthRoutes(router: Router, readiness: () => 'ready' | 'stopping' | 'over-memory'): void {
  router.add('GET', '/health', () => ({ status: 200, body: { status: 'ok' } }));
  router.add('GET', '/ready', () => {
    const status = readiness();
    return { status: status === 'ready' ? 200 : 503, body: { status } };
  });
}
