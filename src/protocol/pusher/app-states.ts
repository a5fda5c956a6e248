import type { App } from '../../core/apps/app.js';
import { ChannelRegistry } from '../../core/channels/registry.js';
import type { AppState } from './context.js';
import type { PusherSocket } from './socket.js';
import { UserRegistry } from './user-registry.js';

/** The adapter namespace of an app's channels and of its entries in the shared stores. */
export const namespaceOf = (appId: string) => `pusher:${appId}`;

/** The app id of a namespace made by `namespaceOf`. */
export const appIdOf = (namespace: string) => namespace.slice(namespaceOf('').length);

/** The state of every app with connections on this node, by app id and by namespace. */
export class AppStates {
  readonly #byId = new Map<string, AppState>();
  readonly #byNamespace = new Map<string, AppState>();

  /** The app's state, made on first use; `app` replaces the one looked up before. */
  of(app: App): AppState {
    let state = this.#byId.get(app.id);
    if (state) {
      state.app = app;
    } else {
      state = {
        app,
        namespace: namespaceOf(app.id),
        sockets: new Map(),
        registry: new ChannelRegistry(),
        users: new UserRegistry(),
        resumable: new Map(),
      };
      this.#byId.set(app.id, state);
      this.#byNamespace.set(state.namespace, state);
    }
    return state;
  }

  get(appId: string): AppState | undefined {
    return this.#byId.get(appId);
  }

  byNamespace(namespace: string): AppState | undefined {
    return this.#byNamespace.get(namespace);
  }

  states(): IterableIterator<AppState> {
    return this.#byId.values();
  }

  /** Every open socket of every app on this node. */
  *sockets(): IterableIterator<PusherSocket> {
    for (const state of this.#byId.values()) yield* state.sockets.values();
  }
}
