import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decode, encode } from '@msgpack/msgpack';
import { pino } from 'pino';
import type { Adapter, ChannelMessage, RequestHandler } from '../../../../src/adapters/adapter.js';
import { MalformedBusMessage } from '../../../../src/adapters/bus-payload.js';
import { parseConfig } from '../../../../src/config/load.js';
import type { Connection, UpgradeRequest } from '../../../../src/core/connection.js';
import type { Frame } from '../../../../src/core/frame.js';
import { Payload } from '../../../../src/protocol/wamp/payload.js';
import { WampRouter } from '../../../../src/protocol/wamp/router.js';
import type { WampSession } from '../../../../src/protocol/wamp/session.js';
import { until } from '../../../helpers/wait.js';

/** Records what the router sends and how it closes; no sockets involved. */
class FakeConnection implements Connection {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | undefined;
  readonly remoteAddress = '127.0.0.1';

  send(frame: Frame): void {
    if (!this.closed) this.frames.push(frame);
  }

  close(code: number, reason: string): void {
    this.closed ??= { code, reason };
  }

  /** The messages sent so far, decoded. */
  messages(): unknown[][] {
    return this.frames.map((f) =>
      typeof f.text === 'string' ? (JSON.parse(f.text) as unknown[]) : (decode(f.text) as unknown[]),
    );
  }

  last(): unknown[] {
    return this.messages().at(-1)!;
  }
}

const ROLES = { publisher: {}, subscriber: {}, caller: {}, callee: {} };

function setup(logger = pino({ level: 'silent' }), adapter?: Adapter) {
  const config = parseConfig({ wamp: {} });
  const router = new WampRouter({ config: config.wamp, logger, ...(adapter ? { adapter } : {}) });
  const connect = (protocol: 'wamp.2.json' | 'wamp.2.msgpack' = 'wamp.2.json') => {
    const connection = new FakeConnection();
    const request: UpgradeRequest = {
      params: [],
      query: new URLSearchParams(),
      protocol,
      headers: {},
    };
    const session = router.open(connection, request) as WampSession;
    const send = (message: unknown[]) =>
      protocol === 'wamp.2.json'
        ? session.onMessage(JSON.stringify(message), JSON.stringify(message).length)
        : session.onBinary(Buffer.from(encode(message)));
    send([1, 'realm1', { roles: ROLES }]);
    return { connection, session, send };
  };
  return { router, connect };
}

/** A logger that keeps its records, to assert on what was reported. */
function recordingLogger() {
  const records: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => records.push(JSON.parse(line)) });
  return { logger, records };
}

describe('WampRouter with fake connections', () => {
  test('a payload one serializer cannot encode, past the ingress checks, is dropped for its sessions alone and logged', () => {
    const { logger, records } = recordingLogger();
    const { router, connect } = setup(logger);
    const [json, msgpack] = [connect(), connect('wamp.2.msgpack')];
    json.send([32, 1, {}, 'com.deep']);
    msgpack.send([32, 1, {}, 'com.deep']);
    const before = msgpack.connection.frames.length;
    // What a testament or another node could hand the broker: MessagePack's encoder refuses depth 101.
    const deep = JSON.parse(`${'['.repeat(100)}1${']'.repeat(100)}`) as unknown;
    const options = { excludeMe: false, disclose: false, retain: false };
    router.realm('realm1')!.broker.dispatch(undefined, options, 'com.deep', Payload.of([deep]));
    assert.equal(json.connection.last()[0], 36, 'the JSON subscriber gets its EVENT');
    assert.equal(msgpack.connection.frames.length, before, 'nothing written to the MessagePack one');
    assert.equal(msgpack.connection.closed, undefined, 'and it stays connected');
    const report = records.find((r) => r.msg === 'WAMP message not encodable for this session: dropped');
    assert.ok(report, 'the drop is logged');
    assert.equal(report.session, msgpack.session.id);
    assert.equal(report.type, 36);
    assert.equal(report.serializer, 'wamp.2.msgpack');
    router.realm('realm1')!.broker.dispatch(undefined, options, 'com.deep', Payload.of(['fine']));
    assert.deepEqual(msgpack.connection.last().slice(3), [{}, ['fine']], 'later events still arrive');
  });

  test('WELCOME first, with the session ID the session keeps', () => {
    const { connect } = setup();
    const { connection, session } = connect();
    const welcome = connection.last();
    assert.equal(welcome[0], 2);
    assert.equal(welcome[1], session.id);
  });

  test('one EVENT frame per subscription and serializer, shared by its subscribers', () => {
    const { connect } = setup();
    const subscribers = [connect(), connect(), connect('wamp.2.msgpack')];
    for (const s of subscribers) s.send([32, 1, {}, 'com.fanout']);
    const publisher = connect();
    publisher.send([16, 1, {}, 'com.fanout', ['x']]);
    const events = subscribers.map((s) => s.connection.frames.at(-1)!);
    assert.equal(events[0], events[1], 'JSON subscribers share one Frame');
    assert.notEqual(events[0], events[2]);
    assert.deepEqual(subscribers[2]!.connection.last().slice(3), [{}, ['x']]);
  });

  test('a protocol violation sends ABORT and closes with 1002; nothing is sent after', () => {
    const { connect } = setup();
    const { connection, send } = connect();
    send([99]);
    assert.deepEqual(connection.last().slice(2), ['wamp.error.protocol_violation']);
    assert.deepEqual(connection.closed, { code: 1002, reason: 'wamp.error.protocol_violation' });
    const count = connection.frames.length;
    send([32, 1, {}, 'com.x']);
    assert.equal(connection.frames.length, count);
  });

  test('GOODBYE is echoed and the transport may say HELLO again', () => {
    const { connect } = setup();
    const { connection, send, session } = connect();
    const first = session.id;
    send([6, {}, 'wamp.close.normal']);
    assert.deepEqual(connection.last(), [6, {}, 'wamp.close.goodbye_and_out']);
    assert.equal(connection.closed, undefined);
    send([1, 'realm1', { roles: ROLES }]);
    assert.equal(connection.last()[0], 2);
    assert.notEqual(session.id, first);
  });

  test('the session leaves its realm when the transport goes', () => {
    const { router, connect } = setup();
    const { session } = connect();
    const realm = router.realm('realm1')!;
    assert.equal(realm.sessions.get(session.id), session);
    const id = session.id;
    session.onClose(1006);
    assert.equal(realm.sessions.has(id), false);
  });

  test('an on_join from the cluster whose payload cannot be read is refused by the bus check, never delivered', () => {
    const { router, connect } = setup();
    const watcher = connect();
    watcher.send([32, 1, {}, 'wamp.session.on_join']);
    const count = watcher.connection.frames.length;
    const options = { excludeMe: false, disclose: false, retain: false };
    const wire = { t: 'wamp.session.on_join', p: 5, d: {}, o: options, a: '[{"transport": ' };
    // The router's bus handler logs and drops what the check refuses (see the cluster bus tests).
    assert.throws(() => router.realm('realm1')!.broker.receive(JSON.stringify(wire)), {
      name: 'MalformedBusMessage',
    });
    assert.equal(watcher.connection.frames.length, count, 'nothing delivered');
  });

  test('after an overflow the session is over: what the client still sent is ignored, nothing is logged', () => {
    const { logger, records } = recordingLogger();
    const { router, connect } = setup(logger);
    const { connection, session, send } = connect();
    const id = session.id;
    session.onOverflow();
    assert.equal(router.realm('realm1')!.sessions.has(id), false, 'the session left its realm');
    const count = connection.frames.length;
    send([32, 1, {}, 'com.after.overflow']);
    assert.equal(connection.frames.length, count, 'nothing answered');
    assert.deepEqual(
      records.filter((r) => (r.level as number) >= 50),
      [],
    );
    session.onClose(1006);
  });

  test('stop() closes every transport with 1001 and sends nothing', () => {
    const { router, connect } = setup();
    const { connection } = connect();
    const count = connection.frames.length;
    router.stop();
    assert.deepEqual(connection.closed, { code: 1001, reason: 'server shutting down' });
    assert.equal(connection.frames.length, count);
  });
});

/**
 * The adapter of node `node-a` in a cluster with `node-b`: records what the router publishes, hands it
 * what the bus would, and answers lookups with this node's answer and `others`.
 */
class FakeClusterAdapter implements Adapter {
  readonly nodeId = 'node-a';
  readonly peers = ['node-b'];
  readonly #published: ChannelMessage[] = [];
  /** The other nodes' answers to the next requests. */
  others: unknown[] = [];
  readonly #handlers = new Map<string, RequestHandler>();
  #deliver: ((m: ChannelMessage) => void) | undefined;

  onMessage(handler: (m: ChannelMessage) => void): void {
    this.#deliver = handler;
  }

  /** What another node (or anyone on the broker) sent to this node's calls namespace. */
  fromBus(text: string): void {
    this.#deliver?.({ namespace: 'wamp-node:node-a', channel: '', text, remote: true });
  }

  async publish(message: ChannelMessage): Promise<void> {
    this.#published.push(message);
  }

  /** What was published for other nodes' dealers (the realm's meta events left out). */
  toNodes(): ChannelMessage[] {
    return this.#published.filter((m) => m.namespace.startsWith('wamp-node:'));
  }

  async addInterest(): Promise<void> {}
  async removeInterest(): Promise<void> {}

  handle(op: string, handler: RequestHandler): void {
    this.#handlers.set(op, handler);
  }

  async request<T>(op: string, payload: unknown): Promise<{ answers: T[]; complete: boolean }> {
    const own = await this.#handlers.get(op)?.(payload);
    return { answers: [own, ...this.others] as T[], complete: true };
  }

  async broadcast(): Promise<void> {}
  onNodeDown(): void {}
  async start(): Promise<void> {}
  async close(): Promise<void> {}
}

/** A call message of the realm's dealer on node `n`: the smallest CALL there is. */
const callFrom = (n: unknown) =>
  JSON.stringify({
    n,
    r: 'realm1',
    m: { k: 'call', c: 1, ca: 'a', cr: 'r', q: 1, u: 'com.fuzz.proc', o: {} },
  });

/** A registration of `com.remote` as node `node` answers the cluster's lookup. */
const registration = (node: unknown, fields: Record<string, unknown> = {}) => ({
  node,
  uri: 'com.remote',
  match: 'exact',
  invoke: 'single',
  callees: 1,
  oldest: 1,
  newest: 1,
  ...fields,
});

describe('WampRouter in a cluster: what other nodes send is checked before it is used', () => {
  test('a call message whose node is not a node id is dropped: nothing is published for it', () => {
    const adapter = new FakeClusterAdapter();
    setup(pino({ level: 'silent' }), adapter);
    for (const node of ['x'.repeat(10_000), '', 'a.b', 'node*', 7]) {
      assert.throws(
        () => adapter.fromBus(callFrom(node)),
        (err: Error) => {
          assert.ok(err instanceof MalformedBusMessage, String(err));
          return /node/.test(err.message);
        },
      );
    }
    assert.equal(adapter.toNodes().length, 0, 'no answer sent anywhere');
    // A call from a node id is answered, to that node's namespace.
    adapter.fromBus(callFrom('node-b'));
    assert.deepEqual(
      adapter.toNodes().map((m) => m.namespace),
      ['wamp-node:node-b'],
    );
    const answer = JSON.parse(adapter.toNodes()[0]!.text) as { m: { m: unknown[] } };
    assert.deepEqual(answer.m.m.slice(0, 3), [8, 48, 1]);
  });

  test('a call message that claims to come from this node is dropped', () => {
    const adapter = new FakeClusterAdapter();
    setup(pino({ level: 'silent' }), adapter);
    assert.throws(() => adapter.fromBus(callFrom('node-a')), /from this node itself/);
    assert.equal(adapter.toNodes().length, 0);
  });

  test('a lookup answer that cannot be used is dropped with a warning: the call is refused as unavailable', async () => {
    const { logger, records } = recordingLogger();
    const adapter = new FakeClusterAdapter();
    const { connect } = setup(logger, adapter);
    const caller = connect();
    const malformed = [
      registration('x'.repeat(10_000)),
      registration('node-b', { callees: 0 }),
      registration('node-b', { match: 'fuzzy' }),
      registration('node-b', { invoke: 'most' }),
      registration('node-b', { oldest: 'then' }),
      [1],
    ];
    for (const [i, answer] of malformed.entries()) {
      adapter.others = [answer];
      const sent = caller.connection.frames.length;
      caller.send([48, i + 1, {}, 'com.remote', []]);
      await until(() => caller.connection.frames.length > sent, `the answer to ${JSON.stringify(answer)}`);
      assert.deepEqual(caller.connection.last().slice(0, 5), [8, 48, i + 1, {}, 'wamp.error.unavailable']);
    }
    assert.equal(adapter.toNodes().length, 0, 'no call sent anywhere');
    const warnings = records.filter((r) => r.msg === 'malformed cluster message dropped');
    assert.equal(warnings.length, malformed.length);
    assert.ok(warnings.every((w) => w.level === 40 && w.procedure === 'com.remote'));
  });

  test('a registration shared with more callees than any list could hold still picks a node', async () => {
    const adapter = new FakeClusterAdapter();
    const { connect } = setup(pino({ level: 'silent' }), adapter);
    const caller = connect();
    adapter.others = [
      registration('node-b', { invoke: 'roundrobin', callees: Number.MAX_SAFE_INTEGER }),
      registration('node-c', { invoke: 'roundrobin' }),
    ];
    caller.send([48, 1, {}, 'com.remote', []]);
    await until(() => adapter.toNodes().length > 0, 'the call handed to node-b');
    assert.equal(adapter.toNodes()[0]!.namespace, 'wamp-node:node-b');
  });
});
