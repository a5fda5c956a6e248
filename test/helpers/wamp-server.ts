import { after, before } from 'node:test';
import type { ConfigInput } from '../../src/config/schema.js';
import { type AutobahnConnection, type AutobahnSession, closeAutobahn, openAutobahn } from './autobahn.js';
import { startHerald, type TestHerald } from './herald.js';
import { RawWampClient } from './wamp-client.js';

/**
 * Inside a `describe`: a real server for the suite (started before, stopped after) and raw WAMP clients
 * that are all closed with it.
 */
export function wampServer(config: ConfigInput = {}) {
  let herald: TestHerald | undefined;
  const clients: RawWampClient[] = [];
  before(async () => {
    herald = await startHerald(config);
  });
  after(async () => {
    for (const c of clients) c.close();
    await herald?.stop();
  });
  return {
    get herald(): TestHerald {
      return herald!;
    },
    get url(): string {
      return `ws://127.0.0.1:${herald!.port}/ws`;
    },
    /** Keeps `client` to close it with the suite. */
    track(client: RawWampClient): RawWampClient {
      clients.push(client);
      return client;
    },
    /** A client joined to a realm, closed with the suite. */
    async join(options: Parameters<typeof RawWampClient.join>[1] = {}): Promise<RawWampClient> {
      return this.track(await RawWampClient.join(this.url, options));
    },
  };
}

/**
 * Inside a `describe`: `wampServer`, plus autobahn-js sessions that are all closed, before the server
 * stops, after the suite.
 */
export function autobahnServer(config: ConfigInput = {}) {
  const connections: AutobahnConnection[] = [];
  after(async () => {
    for (const c of connections) await closeAutobahn(c);
  });
  const server = wampServer(config);
  return Object.assign(server, {
    /** An autobahn-js session joined to `realm`, closed with the suite. */
    async session(realm = 'realm1'): Promise<AutobahnSession> {
      const { connection, session } = await openAutobahn({ url: server.url, realm });
      connections.push(connection);
      return session;
    },
  });
}
