import { CborSerializer } from 'wampy/CborSerializer.js';
import { MsgpackSerializer } from 'wampy/MsgpackSerializer.js';
import {
  type AutobahnConnection,
  type AutobahnConnectionOptions,
  type AutobahnSession,
  autobahn,
  closeAutobahn,
  openAutobahn,
} from './autobahn.js';
import { PythonClient } from './python.js';
import { RawWampClient, type Serialization } from './wamp-client.js';
import { newWampy, type Wampy, type WampyOptions } from './wampy.js';

/** Resolves with the first value `subscribe` hands its callback. */
export function first<T>(subscribe: (callback: (value: T) => void) => unknown): Promise<T> {
  return new Promise((resolve) => subscribe(resolve));
}

/**
 * The WAMP clients of one test file, on one router: autobahn-js, wampy, raw and autobahn-python
 * clients, each in the serialization asked for, all closed (or killed) by `close`.
 */
export class WampClients {
  readonly #connections: AutobahnConnection[] = [];
  readonly #wampys: Wampy[] = [];
  readonly #raws: RawWampClient[] = [];
  readonly #pythons: PythonClient[] = [];

  constructor(readonly url: string) {}

  /** An autobahn-js session joined to realm1 with only the serializer of `serialization`. */
  async autobahn(
    serialization: Serialization,
    options: Partial<AutobahnConnectionOptions> = {},
  ): Promise<AutobahnSession> {
    const serializers = {
      json: () => new autobahn.serializer.JSONSerializer(),
      msgpack: () => new autobahn.serializer.MsgpackSerializer(),
      cbor: () => new autobahn.serializer.CBORSerializer(),
    };
    const opened = await openAutobahn({
      url: this.url,
      realm: 'realm1',
      serializers: [serializers[serialization]()],
      ...options,
    });
    this.#connections.push(opened.connection);
    return opened.session;
  }

  /** A connected wampy client with the serializer of `serialization`. */
  async wampy(serialization: Serialization, options: WampyOptions = {}): Promise<Wampy> {
    const serializer = { json: undefined, msgpack: MsgpackSerializer, cbor: CborSerializer }[serialization];
    const w = this.track(
      newWampy(this.url, { ...(serializer ? { serializer: new serializer() } : {}), ...options }),
    );
    await w.connect();
    return w;
  }

  /** A raw client joined to realm1. */
  async raw(serialization: Serialization = 'json'): Promise<RawWampClient> {
    const client = await RawWampClient.join(this.url, { serialization });
    this.#raws.push(client);
    return client;
  }

  /** Runs test/fixtures/wamp/`script` with `args`. */
  python(script: string, ...args: string[]): PythonClient {
    const p = new PythonClient(script, args);
    this.#pythons.push(p);
    return p;
  }

  /** Closes `client` with the others. */
  track<T extends Wampy | RawWampClient>(client: T): T {
    if (client instanceof RawWampClient) this.#raws.push(client);
    else this.#wampys.push(client as Wampy);
    return client;
  }

  async close(): Promise<void> {
    for (const c of this.#connections) await closeAutobahn(c);
    for (const w of this.#wampys) await w.disconnect().catch(() => {});
    for (const r of this.#raws) r.close();
    for (const p of this.#pythons) p.kill();
    await Promise.all(this.#pythons.map((p) => p.exited));
  }
}
