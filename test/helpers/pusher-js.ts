import PusherModule from 'pusher-js';

/**
 * pusher-js is CommonJS whose typings describe an ES default export; under NodeNext the default
 * import is the module object's type. This re-exports the class with its real type.
 */
type PusherClass = (typeof PusherModule)['default'];
export const Pusher = PusherModule as unknown as PusherClass;
export type Pusher = InstanceType<PusherClass>;
export type { Channel, Options, PresenceChannel } from 'pusher-js';
