import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decode, encode } from '@msgpack/msgpack';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/load.js';
import type { Connection, UpgradeRequest } from '../../src/core/connection.js';
import type { Frame } from '../../src/core/frame.js';
import { WampRouter } from '../../src/protocol/wamp/router.js';
import type { WampSession } from '../../src/protocol/wamp/session.js';

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

function setup() {
  const config = parseConfig({ wamp: {} });
  const router = new WampRouter({ config: config.wamp, logger: pino({ level: 'silent' }) });
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

describe('WampRouter with fake connections', () => {
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

  test('stop() closes every transport with 1001 and sends nothing', () => {
    const { router, connect } = setup();
    const { connection } = connect();
    const count = connection.frames.length;
    router.stop();
    assert.deepEqual(connection.closed, { code: 1001, reason: 'server shutting down' });
    assert.equal(connection.frames.length, count);
  });
});
