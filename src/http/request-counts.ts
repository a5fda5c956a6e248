/** The `route` label of requests no route answered (404, 405, malformed requests). */
export const UNMATCHED_ROUTE = 'unmatched';

/** One count of `herald_http_requests_total`. */
export interface RequestCount {
  /** `<METHOD> <path template>` of the route that answered, or `unmatched`. */
  readonly route: string;
  /** The app the handler found the request to be for; '' when none. */
  readonly app: string;
  readonly status: number;
  readonly count: number;
}

/**
 * HTTP requests answered, by route, app and status. Every key is bounded: routes are the registered
 * templates (never raw paths), apps are those a handler found, statuses those the server sends.
 */
export class RequestCounts {
  /** route → app → status → count. */
  readonly #counts = new Map<string, Map<string, Map<number, number>>>();

  add(route: string, app: string, status: number): void {
    let byApp = this.#counts.get(route);
    if (!byApp) {
      byApp = new Map();
      this.#counts.set(route, byApp);
    }
    let byStatus = byApp.get(app);
    if (!byStatus) {
      byStatus = new Map();
      byApp.set(app, byStatus);
    }
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  }

  *entries(): IterableIterator<RequestCount> {
    for (const [route, byApp] of this.#counts) {
      for (const [app, byStatus] of byApp) {
        for (const [status, count] of byStatus) yield { route, app, status, count };
      }
    }
  }
}
