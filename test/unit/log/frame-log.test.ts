import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import type { Connection, Session, UpgradeRequest } from '../../../src/core/connection.js';
import { Frame } from '../../../src/core/frame.js';
import {
  type FrameDescription,
  type FrameReader,
  logFrames,
  MAX_FRAME_CHARS,
  REDACTED,
} from '../../../src/log/frame-log.js';

const REQUEST: UpgradeRequest = {
  params: ['the-key'],
  query: new URLSearchParams(),
  protocol: '',
  headers: {},
};

/** A reader that reads `id:<x>` as an id, `secret:<x>` as a secret, `boom` as a bug. */
function fakeReader(calls: string[]): FrameReader {
  return {
    protocol: 'pusher',
    fields: { id: 'socketId', scope: 'appKey' },
    open: (request) => ({
      scope: request.params[0],
      describe(data, direction): FrameDescription {
        const text = String(data);
        calls.push(`${direction} ${text}`);
        if (text === 'boom') throw new SyntaxError(`cannot read ${text}`);
        if (text.startsWith('id:')) return { text, id: text.slice(3) };
        if (text.startsWith('secret:')) return { text: `secret:${REDACTED}`, secrets: [text.slice(7)] };
        return { text };
      },
    }),
  };
}

function setup(more: Partial<Connection> = {}) {
  const records: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => records.push(JSON.parse(line)) });
  const calls: string[] = [];
  const sent: Frame[] = [];
  const closes: [number, string][] = [];
  const sessionCalls: string[] = [];
  const connection: Connection = {
    send: (frame) => sent.push(frame),
    close: (code, reason) => closes.push([code, reason]),
    remoteAddress: '10.0.0.1',
    ...more,
  };
  let seen: Connection | undefined;
  const open = logFrames(
    (c, _request) => {
      seen = c;
      const session: Session = {
        onMessage: (text) => sessionCalls.push(`message ${text}`),
        onBinary: (data) => sessionCalls.push(`binary ${data.length}`),
        onActivity: () => sessionCalls.push('activity'),
        onOverflow: () => sessionCalls.push('overflow'),
        onClose: (code) => sessionCalls.push(`close ${code}`),
      };
      return session;
    },
    fakeReader(calls),
    logger,
  );
  const session = open(connection, REQUEST);
  const first = seen!;
  /** Another connection on the same route: its protocol side. */
  const another = () => {
    open(connection, REQUEST);
    return seen!;
  };
  return { records, calls, sent, closes, sessionCalls, session, protocolSide: () => first, another };
}

const lines = (records: Record<string, unknown>[]) =>
  records.map((r) => [r.protocol, r.direction, r.socketId, r.appKey, r.frame, r.msg, r.level]);

describe('logFrames', () => {
  test('every frame in and out, and the closes, one line each with its fields; everything is passed on', () => {
    const { records, sent, closes, sessionCalls, session, protocolSide } = setup();
    const side = protocolSide();
    assert.equal(side.remoteAddress, '10.0.0.1');
    side.send(new Frame('id:1.2'));
    session.onMessage('hello', 5);
    session.onBinary(Buffer.from('bin'));
    session.onActivity();
    session.onOverflow();
    side.close(4200, 'reconnect');
    session.onClose(1006);
    assert.deepEqual(lines(records), [
      ['pusher', 'out', '1.2', 'the-key', 'id:1.2', 'frame', 30],
      ['pusher', 'in', '1.2', 'the-key', 'hello', 'frame', 30],
      ['pusher', 'in', '1.2', 'the-key', 'bin', 'frame', 30],
      ['pusher', 'out', '1.2', 'the-key', '(close 4200 reconnect)', 'frame', 30],
      ['pusher', 'in', '1.2', 'the-key', '(closed 1006)', 'frame', 30],
    ]);
    assert.deepEqual(
      sent.map((f) => f.text),
      ['id:1.2'],
    );
    assert.deepEqual(closes, [[4200, 'reconnect']]);
    assert.deepEqual(sessionCalls, ['message hello', 'binary 3', 'activity', 'overflow', 'close 1006']);
  });

  test("a RawSocket connection's transport and its client's message limit are passed on", () => {
    const side = setup({ transportType: 'rawsocket', maxMessageBytes: 1024 }).protocolSide();
    assert.deepEqual([side.transportType, side.maxMessageBytes], ['rawsocket', 1024]);
    const plain = setup().protocolSide();
    assert.deepEqual([plain.transportType, plain.maxMessageBytes], [undefined, undefined]);
  });

  test('before its id is known a line says null', () => {
    const { records, session } = setup();
    session.onMessage('early', 5);
    assert.equal(records[0]!.socketId, null);
  });

  test('one Frame sent to many connections is described once', () => {
    const { calls, records, protocolSide, another } = setup();
    const frame = new Frame('fan-out');
    protocolSide().send(frame);
    another().send(frame);
    another().send(frame);
    assert.deepEqual(
      calls.filter((c) => c === 'out fan-out'),
      ['out fan-out'],
    );
    assert.equal(records.length, 3);
  });

  test("a redacted string is kept out of the connection's later lines, in every JSON quoting", () => {
    const { records, session, protocolSide } = setup();
    session.onMessage('secret:s3cr"et', 14);
    protocolSide().send(new Frame('refused: s3cr"et'));
    protocolSide().send(new Frame(JSON.stringify({ error: 'got s3cr"et' })));
    protocolSide().send(new Frame(JSON.stringify({ data: JSON.stringify({ error: 'got s3cr"et' }) })));
    const frames = records.map((r) => r.frame as string);
    assert.equal(frames[0], `secret:${REDACTED}`);
    for (const frame of frames) assert.ok(!frame.includes('s3cr'), frame);
    assert.equal(frames[1], `refused: ${REDACTED}`);
  });

  test("a reader's fault costs the line's content, never the connection, and quotes nothing", () => {
    const { records, sessionCalls, session } = setup();
    session.onMessage('boom', 4);
    assert.equal(records.at(-1)!.frame, '(not readable, 4 bytes, not shown)');
    assert.deepEqual(sessionCalls, ['message boom']);
  });

  test('long frames are cut, and the rest counted', () => {
    const { records, session } = setup();
    session.onMessage('x'.repeat(MAX_FRAME_CHARS + 10), MAX_FRAME_CHARS + 10);
    assert.equal(records[0]!.frame, `${'x'.repeat(MAX_FRAME_CHARS)}… (10 more characters)`);
  });
});
