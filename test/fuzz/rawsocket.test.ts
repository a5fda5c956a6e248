import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import { WampUri } from '../../src/protocol/wamp/errors.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { within } from '../helpers/raw-client.js';
import { RawSocketClient, rawSocketFrame, SERIALIZER_IDS } from '../helpers/rawsocket-client.js';
import { encodeWamp, type Serialization } from '../helpers/wamp-client.js';
import { anyJson, fuzz, Observer } from './harness.js';

/**
 * WAMP over RawSocket under generated input (docs/wamp.md, "RawSocket"): any bytes as a handshake, in
 * any pieces, on RawSocket's own port and on the public port; then, after a good handshake, any frames:
 * WAMP messages, PINGs and PONGs, random payloads, headers the spec forbids and lengths past the
 * router's. Every handshake gets the spec's reply or a close, never a hang; a connection whose frames
 * break no rule answers a last PING, one that sent a forbidden frame is closed; a closed connection
 * never saw a message it could not decode; nothing is logged at error level; everyone else is served.
 */

const CASE_MS = 5000;
/** `wamp.rawsocketMaxMessageBytes`: the handshake announces 4096 (2^(9+3)). */
const MAX_MESSAGE = 3000;
const ANNOUNCED = 4096;
const ROUTER_URIS: ReadonlySet<string> = new Set(Object.values(WampUri));

const SERIALIZATIONS = Object.keys(SERIALIZER_IDS) as Serialization[];

/** What the router must answer to a complete handshake (`bytes`, at least 4, the first one 0x7F). */
function expectedReply(bytes: Buffer): string {
  const serializer = bytes[1]! & 0x0f;
  if (bytes[2] !== 0 || bytes[3] !== 0) return '7f300000';
  if (serializer < 1 || serializer > 3) return '7f100000';
  if (bytes[1]! >> 4 === 0) return '7f200000';
  return `7f3${serializer}0000`;
}

/** `bytes` cut into pieces at `cuts` (offsets, any order), as a client's writes. */
function pieces(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const cut of [...at, bytes.length]) {
    if (cut > from) out.push(bytes.subarray(from, cut));
    from = cut;
  }
  return out;
}

/** One frame as bytes, and whether the router must fail the connection when it reads it. */
interface DraftFrame {
  bytes: Buffer;
  fatal: boolean;
}

const message = (): fc.Arbitrary<unknown[]> =>
  fc.oneof(
    fc.constant<unknown[]>([1, 'realm1', { roles: { caller: {}, subscriber: {}, publisher: {} } }]),
    fc
      .tuple(fc.nat(5), anyJson())
      .map(([n, value]) => [16, n + 1, { acknowledge: true }, 'com.fuzz.rs', [value]]),
    fc.tuple(fc.nat(5), anyJson()).map(([n, value]) => [48, n + 1, {}, 'wamp.session.count', [value]]),
    fc.nat(5).map((n) => [32, n + 1, {}, 'com.fuzz.rs']),
    fc.constant<unknown[]>([6, {}, 'wamp.close.normal']),
    fc.array(anyJson(), { maxLength: 5 }),
    fc.nat({ max: 2000 }).map((n) => [16, 1, {}, 'com.fuzz.big', ['x'.repeat(MAX_MESSAGE - 500 + n)]]),
  );

const frame = (serialization: Serialization): fc.Arbitrary<DraftFrame> =>
  fc.oneof(
    {
      weight: 5,
      arbitrary: message().map((m) => {
        const payload = encodeWamp(m, serialization);
        const length = Buffer.byteLength(payload);
        return { bytes: rawSocketFrame(0, payload), fatal: length > ANNOUNCED };
      }),
    },
    {
      weight: 3,
      arbitrary: fc
        .record({ type: fc.constantFrom(0, 1, 2), payload: fc.uint8Array({ maxLength: 300 }) })
        .map(({ type, payload }) => {
          const bytes = Buffer.from(payload);
          // A JSON message must be UTF-8; anything else is the protocol's to judge.
          return {
            bytes: rawSocketFrame(type, bytes),
            fatal: type === 0 && serialization === 'json' && !isUtf8(bytes),
          };
        }),
    },
    {
      weight: 2,
      arbitrary: fc
        .record({ first: fc.integer({ min: 0, max: 255 }), length: fc.integer({ min: 0, max: 2 ** 24 - 1 }) })
        .map(({ first, length }) => {
          const header = Buffer.alloc(4);
          header.writeUIntBE(length, 1, 3);
          header[0] = first;
          const extended = (first & 0x08) !== 0;
          const bad = (first & 0xf0) !== 0 || (first & 0x07) > 2 || (extended && length !== 0);
          const size = extended ? 2 ** 24 : length;
          if (bad || size > ANNOUNCED) return { bytes: header, fatal: true };
          return { bytes: Buffer.concat([header, Buffer.alloc(size, 0x20)]), fatal: false };
        }),
    },
  );

describe('fuzz: WAMP over RawSocket', () => {
  let server: TestHerald;
  let observer: Observer;
  let rawObserver: RawSocketClient;
  let publisher: RawSocketClient;
  let probes = 0;
  const errors: string[] = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => void errors.push(line) });
  const ports = () => [server.herald.rawSocketPort!, server.port];

  before(async () => {
    server = await startHerald(
      {
        wamp: {
          rawsocketMaxMessageBytes: MAX_MESSAGE,
          helloTimeoutMs: 100,
          rawsocket: { host: '127.0.0.1', port: 0 },
        },
      },
      { logger },
    );
    observer = await Observer.connect(server);
    rawObserver = await RawSocketClient.join(server.port, 'cbor');
    rawObserver.send([32, 1, {}, 'com.fuzz.rs.observed']);
    await within(rawObserver.next(), CASE_MS, 'SUBSCRIBED');
    publisher = await RawSocketClient.join(server.herald.rawSocketPort!, 'json');
  });
  after(async () => {
    observer?.close();
    rawObserver?.close();
    publisher?.close();
    await server?.stop();
  });

  /** After each case: no error logged, the RawSocket observer answers a PING and gets an event, and `Observer`'s checks. */
  const checkAll = async () => {
    assert.deepEqual(errors.splice(0), [], 'nothing logged at error level');
    const probe = `probe-${++probes}`;
    rawObserver.write(rawSocketFrame(1, probe));
    assert.equal(
      (await within(rawObserver.frame(2), CASE_MS, 'the observer PONG')).payload.toString(),
      probe,
    );
    publisher.send([16, 1, {}, 'com.fuzz.rs.observed', [probe]]);
    const event = await within(rawObserver.next(), CASE_MS, `the observer event ${probe}`);
    assert.deepEqual([event[0], event[4]], [36, [probe]]);
    await observer.check();
  };

  test('any bytes as a handshake, in any pieces: the spec reply, or a close; never a hang', async () => {
    await fuzz(
      'rawsocket handshakes',
      100,
      [
        fc.nat(1),
        fc.oneof(
          fc
            .tuple(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 0, 0, 1, 128))
            .map(([second, reserved]) =>
              Buffer.from([0x7f, second, reserved === 128 ? 0 : reserved, reserved === 128 ? 128 : 0]),
            ),
          fc
            .uint8Array({ minLength: 1, maxLength: 3 })
            .map((tail) => Buffer.concat([Buffer.from([0x7f]), tail]).subarray(0, 3)),
          fc.uint8Array({ minLength: 1, maxLength: 12 }).map((b) => Buffer.from(b)),
        ),
        fc.array(fc.nat(16), { maxLength: 3 }),
      ],
      async (portIndex, bytes, cuts) => {
        const port = ports()[portIndex]!;
        // Bytes not starting with 0x7F are HTTP on the public port: the HTTP fuzz suite's surface.
        if (port === server.port && bytes[0] !== 0x7f) return;
        const client = await RawSocketClient.connect(port);
        // A good handshake is answered, then the session waits for HELLO until wamp.helloTimeoutMs.
        client.serialization = SERIALIZATIONS[(bytes[1]! & 0x0f) - 1] ?? 'json';
        try {
          for (const piece of pieces(bytes, cuts)) client.write(piece);
          const answer = await within(client.end(), CASE_MS, 'the reply and the close, or the close');
          if (bytes[0] !== 0x7f || bytes.length < 4)
            assert.equal(answer.length, 0, 'a close without a reply');
          else assert.equal(answer.toString('hex'), expectedReply(bytes));
          assert.deepEqual(client.undecodable, []);
        } finally {
          client.close();
        }
        await checkAll();
      },
    );
  });

  test('any frames after a good handshake: a last PING is answered unless a frame broke the framing', async () => {
    await fuzz(
      'rawsocket frames',
      150,
      [
        fc.nat(1),
        fc
          .constantFrom(...SERIALIZATIONS)
          .chain((serialization) =>
            fc.tuple(
              fc.constant(serialization),
              fc.array(frame(serialization), { minLength: 1, maxLength: 6 }),
            ),
          ),
        fc.array(fc.nat(4000), { maxLength: 4 }),
      ],
      async (portIndex, [serialization, frames], cuts) => {
        const client = await RawSocketClient.open(ports()[portIndex]!, serialization);
        try {
          const marker = `end-${probes}`;
          const stream = Buffer.concat([...frames.map((f) => f.bytes), rawSocketFrame(1, marker)]);
          for (const piece of pieces(stream, cuts)) client.write(piece);
          const outcome = await within(
            client
              .frame(2, (payload) => payload.toString() === marker)
              .then(
                () => marker,
                () => 'closed',
              ),
            CASE_MS,
            'the PONG or the close',
          );
          const fatal = frames.findIndex((f) => f.fatal);
          const aborted = client.messages.some((m) => m[0] === 3);
          if (fatal >= 0) assert.equal(outcome, 'closed', `frame ${fatal} breaks the framing`);
          else if (outcome === 'closed') assert.ok(aborted, 'closed only after an ABORT');
          else assert.equal(outcome, marker);
          assert.deepEqual(client.undecodable, [], 'every message the router sent decodes');
          for (const m of client.messages) {
            if (m[0] === 3 || m[0] === 6) assert.ok(ROUTER_URIS.has(m[2] as string), JSON.stringify(m));
            if (m[0] === 8) assert.ok(ROUTER_URIS.has(m[4] as string), JSON.stringify(m));
          }
        } finally {
          client.close();
        }
        await checkAll();
      },
    );
  });
});
