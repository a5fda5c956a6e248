import type { Router } from './router.js';

/** `GET /health` answers while the process runs; `GET /ready` turns 503 once shutdown begins. */
export function addHealthRoutes(router: Router, isReady: () => boolean): void {
  router.add('GET', /^\/health$/, () => ({ status: 200, body: { status: 'ok' } }));
  router.add('GET', /^\/ready$/, () =>
    isReady() ? { status: 200, body: { status: 'ready' } } : { status: 503, body: { status: 'stopping' } },
  );
}
