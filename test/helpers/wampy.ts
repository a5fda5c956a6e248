import { Wampy } from 'wampy';
import { WebSocket } from 'ws';

export { Wampy };
/** wampy's constructor options (the package does not export the type by name). */
export type WampyOptions = NonNullable<ConstructorParameters<typeof Wampy>[1]>;

/**
 * A wampy client for `url` that does not reconnect. In Node wampy needs a WebSocket class (docs/wamp.md,
 * "Connecting clients"); the `ws` class serves.
 */
export function newWampy(url: string, options: WampyOptions = {}): Wampy {
  return new Wampy(url, {
    realm: 'realm1',
    autoReconnect: false,
    ws: WebSocket as unknown as WampyOptions['ws'],
    ...options,
  });
}
