import PusherServer from 'pusher';
import { parseConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { Herald, type HeraldDeps } from '../../src/server.js';
import { Pusher, type Options as PusherOptions } from './pusher-js.js';

export const APP = { id: 'app-id', key: 'app-key', secret: 'app-secret' } as const;

export interface TestHerald {
  herald: Herald;
  port: number;
  /** `http://127.0.0.1:<port>` (`https://` with `tls`) */
  httpUrl: string;
  /** The bound port of the admin listener (`api.port`, 0 picks one); undefined without one. */
  apiPort: number | undefined;
  /** `http://127.0.0.1:<apiPort>`; undefined without an admin listener. */
  apiUrl: string | undefined;
  /** The WebSocket URL pusher-js would use for `key` (`wss://` with `tls`, under `pathPrefix`). */
  wsUrl(key?: string, query?: string): string;
  /** The official server SDK (`pusher` on npm) pointed at this server. */
  sdk(credentials?: { id: string; key: string; secret: string }): PusherServer;
  /** A pusher-js client (Node build) for this server; closed by `stop()`. */
  client(options?: Partial<PusherOptions>, key?: string): Pusher;
  stop(): Promise<void>;
}

/**
 * Starts a real server on 127.0.0.1 port 0 with the default app (client events on) and no connection
 * rate per address unless `config` says otherwise. Logs are silent unless HERALD_TEST_LOG names a level.
 */
export async function startHerald(config: ConfigInput = {}, deps: HeraldDeps = {}): Promise<TestHerald> {
  const herald = new Herald(
    parseConfig({
      host: '127.0.0.1',
      port: 0,
      logLevel: process.env.HERALD_TEST_LOG ?? 'silent',
      apps: [{ ...APP, clientEvents: true }],
      // Tests and fuzz suites open hundreds of connections from 127.0.0.1 within a second, which the
      // default rate per address (100/s, burst 500) would refuse; tests of that limit set it themselves.
      connectionRatePerAddress: null,
      ...config,
    }),
    deps,
  );
  await herald.start();
  const port = herald.port;
  const apiPort = herald.apiPort;
  const secure = herald.config.tls ? 's' : '';
  const clients: Pusher[] = [];
  return {
    herald,
    port,
    httpUrl: `http${secure}://127.0.0.1:${port}`,
    apiPort,
    apiUrl: apiPort === undefined ? undefined : `http://127.0.0.1:${apiPort}`,
    wsUrl: (key = APP.key, query = 'protocol=7&client=js&version=8.6.0&flash=false') =>
      `ws${secure}://127.0.0.1:${port}${herald.config.pathPrefix}/app/${key}?${query}`,
    sdk: (credentials = APP) => pusherSdk(port, credentials),
    client(options = {}, key = APP.key) {
      const client = pusherClient(port, key, options);
      clients.push(client);
      return client;
    },
    async stop() {
      for (const c of clients) c.disconnect();
      await herald.stop();
    },
  };
}

/** A pusher-js client (Node build) for a server on 127.0.0.1 `port`, over WebSocket only. */
export function pusherClient(
  port: number,
  key: string = APP.key,
  options: Partial<PusherOptions> = {},
): Pusher {
  return new Pusher(key, {
    wsHost: '127.0.0.1',
    wsPort: port,
    forceTLS: false,
    enabledTransports: ['ws'],
    cluster: '',
    ...options,
  });
}

/** The official server SDK (`pusher` on npm) pointed at a server on 127.0.0.1 `port`. */
export function pusherSdk(
  port: number,
  credentials: { id: string; key: string; secret: string } = APP,
): PusherServer {
  return new PusherServer({
    appId: credentials.id,
    key: credentials.key,
    secret: credentials.secret,
    host: '127.0.0.1',
    port: String(port),
    useTLS: false,
  });
}

/** A channel authorizer for pusher-js that signs with the `pusher` SDK, as an app's auth endpoint would. */
export function sdkAuthorizer(
  sdk: PusherServer,
  presenceData?: (socketId: string) => { user_id: string; user_info?: Record<string, unknown> },
) {
  return {
    channelAuthorization: {
      endpoint: '/unused',
      transport: 'ajax' as const,
      customHandler: (
        params: { socketId: string; channelName: string },
        callback: (error: Error | null, data: { auth: string; channel_data?: string } | null) => void,
      ) => {
        const { socketId, channelName } = params;
        const presence =
          channelName.startsWith('presence-') && presenceData ? presenceData(socketId) : undefined;
        callback(
          null,
          presence
            ? sdk.authorizeChannel(socketId, channelName, presence)
            : sdk.authorizeChannel(socketId, channelName),
        );
      },
    },
  };
}

/** Resolves when a pusher-js client reaches `connected`. */
export function connected(client: Pusher): Promise<string> {
  return new Promise((resolve, reject) => {
    if (client.connection.state === 'connected') return resolve(client.connection.socket_id);
    const onChange = ({ current }: { current: string }) => {
      if (current === 'connected') {
        client.connection.unbind('state_change', onChange);
        resolve(client.connection.socket_id);
      } else if (current === 'failed' || current === 'unavailable') {
        client.connection.unbind('state_change', onChange);
        reject(new Error(`pusher-js connection ${current}`));
      }
    };
    client.connection.bind('state_change', onChange);
  });
}

/** Resolves with the first payload `event` carries on `channel` (a pusher-js Channel or the client). */
export function nextEvent<T = unknown>(
  target: {
    bind(event: string, cb: (data: T, meta?: unknown) => void): unknown;
    unbind(event: string, cb: (data: T, meta?: unknown) => void): unknown;
  },
  event: string,
): Promise<T> {
  return new Promise((resolve) => {
    const cb = (data: T) => {
      target.unbind(event, cb);
      resolve(data);
    };
    target.bind(event, cb);
  });
}
