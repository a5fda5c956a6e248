import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ExtData, encode } from '@msgpack/msgpack';
import { Encoder } from 'cbor-x';
import fc from 'fast-check';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import { WampUri } from '../../src/protocol/wamp/errors.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { within } from '../helpers/raw-client.js';
import { decodeWamp, RawWampClient, type Serialization, WAMP_SUBPROTOCOLS } from '../helpers/wamp-client.js';
import { anyJson, fuzz, nestedJsonText, Observer } from './harness.js';

/**
 * The WAMP router under random messages: every type code, in JSON, MessagePack and CBOR and their batched
 * framings, with wrong arity and types, odd IDs, URIs and options, deep payloads, sent before HELLO,
 * while a challenge is pending (ticket and WAMP-CRA) and in an established session with a call in
 * flight. Every answer must be documented (docs/wamp.md): ERROR, ABORT or GOODBYE with a URI the router
 * sends, the replies of the requests, or a WebSocket close with 1000, 1002, 1007 or 1009; never a
 * hang, and everyone else keeps being served (a Pusher observer and two WAMP subscribers).
 */

const PROTOCOLS = WAMP_SUBPROTOCOLS;
type Protocol = (typeof PROTOCOLS)[number];
const isBinary = (p: Protocol) => !p.startsWith('wamp.2.json');
const serializationOf = (p: Protocol): Serialization =>
  p.startsWith('wamp.2.json') ? 'json' : p.startsWith('wamp.2.msgpack') ? 'msgpack' : 'cbor';

/** Every type code of the WAMP spec: a client's, the router's own, and a few that are none. */
const CLIENT_CODES = [1, 3, 5, 6, 8, 16, 32, 34, 48, 49, 64, 66, 70];
const ROUTER_CODES = [2, 4, 17, 33, 35, 36, 50, 65, 67, 68, 69];
const NOT_CODES = [0, -1, 7, 71, 255, 2 ** 53, 1.5];

/** What the router may answer with: its URIs (`WampUri`); callee URIs only when the case sent them. */
const ROUTER_URIS: ReadonlySet<string> = new Set(Object.values(WampUri));
/** Close codes of the WAMP route (docs/wamp.md, "What the router implements"). */
const CLOSE_CODES = new Set([1000, 1002, 1007, 1009]);
/** Replies that acknowledge a request, or deliver something the case asked for. */
const REPLY_CODES = new Set([2, 4, 17, 33, 35, 36, 50, 65, 67, 68, 69]);

const TOPIC = 'com.fuzz.observed';
const CASE_MS = 5000;

/** A message to send: elements, and optionally a deep payload appended as raw text or bytes. */
interface Draft {
  items: unknown[];
  deep?: { depth: number; kind: 'array' | 'object' };
}

/** What the session is doing when the random messages arrive (`user`: joined `secure` by ticket). */
type Stage = 'fresh' | 'joined' | 'ticket' | 'wampcra' | 'calling' | 'user';
const STAGES: Stage[] = ['fresh', 'joined', 'ticket', 'wampcra', 'calling', 'user'];

/** Values only the binary serializers carry as such (JSON clients send what `JSON.stringify` makes of them). */
const exotic = () =>
  fc.constantFrom<unknown>(
    new Uint8Array([0, 1, 255]),
    2n ** 64n - 1n,
    -(2n ** 63n),
    2n ** 53n + 1n,
    new Date(0),
    Number.NaN,
    Number.POSITIVE_INFINITY,
    -0,
    new ExtData(5, new Uint8Array([1, 2])),
  );
const payloadValue = () => fc.oneof({ weight: 5, arbitrary: anyJson() }, exotic());

const ids = () =>
  fc.oneof(
    { weight: 10, arbitrary: fc.integer({ min: 1, max: 4 }) },
    { weight: 2, arbitrary: fc.constantFrom(0, -1, 2 ** 53, 2 ** 53 + 2, 2 ** 53 - 1, 1.5, 1e300, -0) },
    { weight: 1, arbitrary: fc.integer() },
    { weight: 1, arbitrary: fc.constantFrom('1', null, true, [], {}) },
  );

const uris = () =>
  fc.oneof(
    {
      weight: 8,
      arbitrary: fc.constantFrom('com.fuzz.proc', TOPIC, 'com.fuzz.t', 'realm1', 'secure', 'ticket-secret'),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        'wamp.session.kill_all',
        'wamp.session.get',
        'wamp.session.add_testament',
        'wamp.session.on_join',
        'wamp.subscription.list',
        'wamp.registration.match',
        '',
        'a..b',
        'com.fuzz.#',
        ' com',
        'com.fuzz.',
        '.',
        'x'.repeat(5000),
      ),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 1, arbitrary: fc.constantFrom(1, null, [], {}) },
  );

const optionValue = () =>
  fc.oneof(
    fc.boolean(),
    fc.constantFrom(0, -1, 1, 5, 2 ** 31, 2 ** 32, 2 ** 53, 1e300, 0.5),
    fc.constantFrom('exact', 'prefix', 'wildcard', 'bogus', 'single', 'roundrobin', 'random', 'first'),
    fc.constantFrom('last', 'kill', 'skip', 'killnowait', 'destroyed', 'detached'),
    fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 5 })), { maxLength: 3 }),
    fc.constantFrom(null, {}, 'x'),
  );

const OPTION_KEYS = [
  'acknowledge',
  'exclude_me',
  'exclude',
  'eligible',
  'exclude_authid',
  'eligible_authrole',
  'disclose_me',
  'retain',
  'get_retained',
  'match',
  'invoke',
  'timeout',
  'receive_progress',
  'progress',
  'mode',
  'forward_timeout',
  'disclose_caller',
  'roles',
  'authmethods',
  'authid',
  '__proto__',
];

const options = () =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant({}) },
    { weight: 4, arbitrary: fc.dictionary(fc.constantFrom(...OPTION_KEYS), optionValue(), { maxKeys: 3 }) },
    { weight: 1, arbitrary: anyJson() },
  );

/** One element of some kind, often the kind its position wants. */
const element = () => fc.oneof(ids(), uris(), options(), anyJson(), fc.array(anyJson(), { maxLength: 3 }));

/** A message of type `code`: a well-formed layout, then maybe mutated in arity or elements. */
const draft = (): fc.Arbitrary<Draft> =>
  fc
    .record({
      code: fc.oneof(
        { weight: 12, arbitrary: fc.constantFrom(...CLIENT_CODES) },
        { weight: 3, arbitrary: fc.constantFrom(...ROUTER_CODES) },
        { weight: 1, arbitrary: fc.constantFrom(...NOT_CODES) },
      ),
      id: ids(),
      uri: uris(),
      opts: options(),
      args: fc.array(payloadValue(), { maxLength: 3 }),
      kwargs: fc.oneof(fc.dictionary(fc.string({ maxLength: 6 }), payloadValue(), { maxKeys: 3 }), anyJson()),
      withPayload: fc.nat(2),
      extra: fc.array(element(), { maxLength: 3 }),
      cut: fc.nat(7),
      mutate: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, fc.integer({ min: 1, max: 3 })),
      deep: fc.option(
        fc.record({
          depth: fc.oneof(fc.integer({ min: 95, max: 105 }), fc.integer({ min: 106, max: 20_000 })),
          kind: fc.constantFrom('array' as const, 'object' as const),
        }),
        { freq: 8 },
      ),
    })
    .map(({ code, id, uri, opts, args, kwargs, withPayload, extra, cut, mutate, deep }) => {
      const payload = withPayload === 0 ? [] : withPayload === 1 ? [args] : [args, kwargs];
      const base: Record<number, unknown[]> = {
        1: [code, uri, { roles: { caller: {}, callee: {}, subscriber: {}, publisher: {} }, ...asDict(opts) }],
        3: [code, opts, uri],
        5: [code, typeof uri === 'string' ? uri : 'sig', opts],
        6: [code, opts, 'wamp.close.normal'],
        8: [code, 68, id, opts, uri, ...payload],
        16: [code, id, opts, uri, ...payload],
        32: [code, id, opts, uri],
        34: [code, id, id],
        48: [code, id, opts, uri, ...payload],
        49: [code, id, opts],
        64: [code, id, opts, uri],
        66: [code, id, id],
        70: [code, id, opts, ...payload],
      };
      let items = base[code as number] ?? [code, id, opts, uri, ...payload];
      if (mutate === 1) items = items.slice(0, Math.min(cut, items.length)); // wrong arity
      if (mutate === 2) items = [...items, ...extra];
      if (mutate === 3 && items.length > 1) items = [items[0], ...extra]; // wrong types
      return deep && items.length > 0 ? { items, deep } : { items };
    });

function asDict(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/**
 * Nested MessagePack or CBOR arrays (or single-key maps, inside a list) around the integer 1, built as
 * bytes.
 */
function nestedBinary(depth: number, kind: 'array' | 'object', serialization: 'msgpack' | 'cbor'): Buffer {
  const heads =
    serialization === 'msgpack' ? { list: 0x91, map: 0x81, key: 0xa1 } : { list: 0x81, map: 0xa1, key: 0x61 };
  const open = kind === 'array' ? Buffer.from([heads.list]) : Buffer.from([heads.map, heads.key, 0x61]);
  const list = kind === 'array' ? [] : [Buffer.from([heads.list])];
  return Buffer.concat([...list, ...Array<Buffer>(depth).fill(open), Buffer.from([0x01])]);
}

/** CBOR as cbor-x writes it for a client (wampy's serializer): plain maps and arrays. */
const cborEncoder = new Encoder({ useRecords: false, mapsAsObjects: true });

/** One message as the client's serializer writes it (without batch framing). */
function encodeDraft(d: Draft, protocol: Protocol): string | Buffer {
  if (!isBinary(protocol)) {
    const head = JSON.stringify(d.items, (_key, v: unknown) => (typeof v === 'bigint' ? Number(v) : v));
    if (!d.deep) return head;
    // Nested dicts go inside a list, so that the element can stand where `Arguments` does.
    const nested = nestedJsonText(d.deep.depth, d.deep.kind);
    const deep = d.deep.kind === 'array' ? nested : `[${nested}]`;
    return d.items.length === 0 ? `[${deep}]` : `${head.slice(0, -1)},${deep}]`;
  }
  const serialization = serializationOf(protocol) as 'msgpack' | 'cbor';
  if (serialization === 'cbor') {
    const head = cborEncoder.encode(d.items);
    if (!d.deep || d.items.length >= 23) return head;
    const fixed = Buffer.from([0x80 | (d.items.length + 1)]); // a short array head: at most 23 elements
    return Buffer.concat([fixed, head.subarray(1), nestedBinary(d.deep.depth, d.deep.kind, 'cbor')]);
  }
  const head = Buffer.from(encode(d.items, { ignoreUndefined: true, useBigInt64: true }));
  if (!d.deep || d.items.length >= 15) return head;
  head[0] = 0x90 | (d.items.length + 1); // a fixarray header: at most 15 elements
  return Buffer.concat([head, nestedBinary(d.deep.depth, d.deep.kind, 'msgpack')]);
}

/** Frames to send: one message each, or for the batched subprotocols several per frame (sometimes mis-framed). */
function frames(messages: (string | Buffer)[], protocol: Protocol, grouping: number[], misframe: boolean) {
  if (!protocol.endsWith('batched')) return messages;
  const groups: (string | Buffer)[][] = [];
  let at = 0;
  for (const size of grouping) {
    if (at >= messages.length) break;
    groups.push(messages.slice(at, at + size + 1));
    at += size + 1;
  }
  if (at < messages.length) groups.push(messages.slice(at));
  return groups.map((group) => {
    if (!isBinary(protocol)) {
      const text = group.map((m) => `${m}\x1e`).join('');
      return misframe ? text.slice(0, -1) : text;
    }
    return Buffer.concat(
      group.flatMap((m) => {
        const length = Buffer.alloc(4);
        length.writeUInt32BE((m as Buffer).length + (misframe ? 3 : 0));
        return [length, m as Buffer];
      }),
    );
  });
}

const hexBytes = (text: string) => Buffer.from(text.replaceAll(' ', ''), 'hex');

/** Starts of a CBOR message: none, an array head of any form, or well-formed messages cut short. */
const CBOR_PREFIXES = [
  '',
  '83',
  '9f',
  '98 05',
  '9b 0000000000000005',
  '85 10 01 a0 6174',
  '86 10 01 a1 6b61636b6e6f776c65646765 f5 6174 81',
  '85 1830 02 a0 6e636f6d2e66757a7a2e70726f63',
  '84 1820 03 a0 6174',
].map(hexBytes);

/**
 * One CBOR head with the bytes of its argument, of any major type and head size (reserved ones too), or
 * a token WAMP over CBOR refuses or must handle: tags (64 on a byte string, dates, shared references),
 * simple values, breaks, indefinite strings and containers, `__proto__` as a key, NaN and big integers.
 */
const cborToken = (): fc.Arbitrary<Buffer> =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .record({
          major: fc.integer({ min: 0, max: 7 }),
          info: fc.oneof(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 24, max: 31 })),
          argument: fc.uint8Array({ minLength: 8, maxLength: 8 }),
        })
        .map(({ major, info, argument }) => {
          const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
          return Buffer.concat([Buffer.from([(major << 5) | info]), Buffer.from(argument.subarray(0, size))]);
        }),
    },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        ...[
          'd840 42 0102',
          'd840 01',
          'c1 1a514b67b0',
          'd81c 81 d81d 00',
          'c2 49 010000000000000000',
          'd9d9f7',
          'f7',
          'f0',
          'f8 ff',
          'ff',
          '5f 41 01 ff',
          '7f 61 61 ff',
          'bf 61 61 01 ff',
          '9f 01 ff',
          'a1 69 5f5f70726f746f5f5f 01',
          'a1 f5 01',
          'a1 81 01 01',
          'a0',
          '80',
          'f9 7e00',
          'fb 7ff8000000000000',
          '1b 0020000000000001',
          '3b ffffffffffffffff',
          '5b ffffffffffffffff',
          '9b 00000000ffffffff',
        ].map(hexBytes),
      ),
    },
    { weight: 2, arbitrary: anyJson().map((value) => cborEncoder.encode(value)) },
  );

/** A raw WebSocket on the WAMP route that reads what comes back in its subprotocol, batched or not. */
class FuzzClient {
  readonly ws: WebSocket;
  readonly received: unknown[][] = [];
  readonly undecodable: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: { test: (m: unknown[]) => boolean; resolve: (m: unknown[]) => void }[] = [];

  constructor(
    url: string,
    readonly protocol: Protocol,
  ) {
    this.ws = new WebSocket(url, protocol);
    this.ws.on('error', () => {}); // `closed` carries the outcome
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    this.ws.on('message', (data: Buffer, binary) => {
      try {
        for (const message of this.#split(data, binary)) this.#received(message);
      } catch (err) {
        this.undecodable.push((err as Error).message);
      }
    });
  }

  #split(data: Buffer, binary: boolean): unknown[][] {
    if (!binary) {
      const text = data.toString();
      if (!this.protocol.endsWith('batched')) return [JSON.parse(text)];
      return text
        .replaceAll('\x18', '\x1e')
        .split('\x1e')
        .filter((t) => t !== '')
        .map((t) => JSON.parse(t));
    }
    const serialization = serializationOf(this.protocol);
    if (!this.protocol.endsWith('batched')) return [decodeWamp(data, serialization)];
    const out: unknown[][] = [];
    for (let at = 0; at < data.length; ) {
      const length = data.readUInt32BE(at);
      out.push(decodeWamp(data.subarray(at + 4, at + 4 + length), serialization));
      at += 4 + length;
    }
    return out;
  }

  #received(message: unknown[]): void {
    this.received.push(message);
    const i = this.#waiters.findIndex((w) => w.test(message));
    if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(message);
  }

  async open(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
  }

  /** The first message (already received or to come) that passes `test`. */
  next(test: (m: unknown[]) => boolean): Promise<unknown[]> {
    const seen = this.received.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ test, resolve }));
  }

  send(frame: string | Buffer): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(frame, { binary: typeof frame !== 'string' });
  }

  sendDraft(d: Draft): void {
    const encoded = encodeDraft(d, this.protocol);
    this.send(frames([encoded], this.protocol, [], false)[0]!);
  }
}

const ROLES = { caller: {}, callee: { features: { call_canceling: true } }, subscriber: {}, publisher: {} };

/** Opens a client and brings its session to `stage`. */
async function prepare(url: string, protocol: Protocol, stage: Stage): Promise<FuzzClient> {
  const client = new FuzzClient(url, protocol);
  await within(client.open(), CASE_MS, 'the WebSocket to open');
  const hello = (realm: string, details: Record<string, unknown>) =>
    client.sendDraft({ items: [1, realm, { roles: ROLES, ...details }] });
  switch (stage) {
    case 'fresh':
      return client;
    case 'user':
      hello('secure', { authmethods: ['ticket'], authid: 'alice' });
      await within(
        client.next((m) => m[0] === 4),
        CASE_MS,
        'CHALLENGE',
      );
      client.sendDraft({ items: [5, 'ticket-secret', {}] });
      await within(
        client.next((m) => m[0] === 2),
        CASE_MS,
        'WELCOME after the ticket',
      );
      return client;
    case 'ticket':
    case 'wampcra':
      hello('secure', { authmethods: [stage], authid: stage === 'ticket' ? 'alice' : 'bob' });
      await within(
        client.next((m) => m[0] === 4),
        CASE_MS,
        `CHALLENGE (${stage})`,
      );
      return client;
    default:
      hello('realm1', {});
      await within(
        client.next((m) => m[0] === 2),
        CASE_MS,
        'WELCOME',
      );
      if (stage === 'calling') {
        // A registration and a call in flight to it, so that YIELD, ERROR and CANCEL find something.
        client.sendDraft({ items: [64, 1, { invoke: 'roundrobin' }, 'com.fuzz.proc'] });
        await within(
          client.next((m) => m[0] === 65 || m[0] === 8),
          CASE_MS,
          'REGISTERED',
        );
        client.sendDraft({ items: [48, 2, { receive_progress: true }, 'com.fuzz.proc', ['x']] });
        await within(
          client.next((m) => m[0] === 68),
          CASE_MS,
          'INVOCATION',
        );
      }
      return client;
  }
}

/**
 * Every message the case got is documented, and the session ended documented or still answers: a
 * final GOODBYE gets GOODBYE or ABORT back, or the transport is closed with a documented code.
 */
async function settle(client: FuzzClient, sentUris: Set<string>): Promise<void> {
  const probe = client.next((m) => m[0] === 6 || m[0] === 3);
  client.sendDraft({ items: [6, {}, 'wamp.close.normal'] });
  const end = await within(
    Promise.race([probe.then(() => 'answered' as const), client.closed.then(() => 'closed' as const)]),
    CASE_MS,
    'an answer to the final GOODBYE, or the close',
  );
  client.ws.close(1000);
  const { code } = await within(client.closed, CASE_MS, 'the close');
  assert.deepEqual(client.undecodable, [], 'every frame the router sent decodes');
  for (const m of client.received) {
    const [type] = m;
    if (type === 3) {
      assert.ok(ROUTER_URIS.has(m[2] as string), `ABORT with a router URI: ${JSON.stringify(m)}`);
      assert.notEqual(
        (m[1] as { message?: string }).message,
        'internal error handling the message',
        'no bug',
      );
    } else if (type === 6) {
      assert.ok(ROUTER_URIS.has(m[2] as string), `GOODBYE with a router URI: ${JSON.stringify(m)}`);
    } else if (type === 8) {
      const uri = m[4] as string;
      assert.ok(
        ROUTER_URIS.has(uri) || sentUris.has(uri),
        `ERROR with a documented URI: ${JSON.stringify(m)}`,
      );
    } else {
      assert.ok(
        REPLY_CODES.has(type as number),
        `a reply the router sends: ${JSON.stringify(m).slice(0, 200)}`,
      );
    }
  }
  if (end === 'closed') assert.ok(CLOSE_CODES.has(code), `a documented close code, not ${code}`);
}

/** Three WAMP subscribers (JSON, MessagePack and CBOR) that must get a publication after every case. */
class WampObserver {
  #probes = 0;

  private constructor(
    readonly subscribers: { client: RawWampClient; subscription: number }[],
    readonly publisher: RawWampClient,
  ) {}

  static async connect(url: string): Promise<WampObserver> {
    const subscribers = [];
    for (const serialization of ['json', 'msgpack', 'cbor'] as const) {
      const client = await RawWampClient.join(url, { serialization });
      subscribers.push({ client, subscription: await client.subscribe(TOPIC) });
    }
    return new WampObserver(subscribers, await RawWampClient.join(url));
  }

  async check(): Promise<void> {
    const probe = `probe-${++this.#probes}`;
    const delivered = this.subscribers.map(({ client, subscription }) =>
      client.next((m) => m[0] === 36 && m[1] === subscription && (m[4] as unknown[])?.[0] === probe),
    );
    const request = this.publisher.id();
    this.publisher.send([16, request, { acknowledge: true }, TOPIC, [probe]]);
    await within(this.publisher.reply(request, [17]), CASE_MS, 'PUBLISHED to the observer');
    await within(Promise.all(delivered), CASE_MS, `the observers' EVENT ${probe}`);
    // Whatever the cases published to the observed topic is not kept around.
    for (const { client } of this.subscribers) client.messages.length = 0;
  }

  close(): void {
    for (const { client } of this.subscribers) client.close();
    this.publisher.close();
  }
}

describe('fuzz: the WAMP router', () => {
  let server: TestHerald;
  let observer: Observer;
  let wampObserver: WampObserver;
  let url: string;
  /** What the server logged at error level or above: reports of bugs, which no input may cause. */
  const errors: string[] = [];
  const logger = pino(
    { level: 'error' },
    {
      write: (line: string) => {
        errors.push(line);
      },
    },
  );

  before(async () => {
    const everything = { call: true, register: true, publish: true, subscribe: true };
    server = await startHerald(
      {
        wamp: {
          maxMessageBytes: 256 * 1024,
          realms: [
            { name: 'realm1' },
            {
              name: 'secure',
              roles: [{ name: 'user', permissions: [{ uri: 'com.fuzz.*', allow: everything }] }],
            },
          ],
          auth: {
            anonymous: { role: 'anonymous' },
            ticket: { principals: { alice: { ticket: 'ticket-secret', role: 'user' } } },
            wampcra: { users: { bob: { secret: 'cra-secret', role: 'user' } } },
          },
        },
      },
      { logger },
    );
    url = `ws://127.0.0.1:${server.port}/ws`;
    observer = await Observer.connect(server);
    wampObserver = await WampObserver.connect(url);
  });

  after(async () => {
    observer?.close();
    wampObserver?.close();
    await server?.stop();
  });

  const checkAll = async () => {
    assert.deepEqual(errors.splice(0), [], 'nothing logged at error level');
    await wampObserver.check();
    await observer.check();
  };

  test('random messages of every type, in every framing and stage, get documented answers', async () => {
    await fuzz(
      'wamp messages',
      300,
      [
        fc.constantFrom(...PROTOCOLS),
        fc.constantFrom(...STAGES),
        fc.array(draft(), { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(2), { maxLength: 3 }),
        fc.nat(4).map((n) => n === 0),
      ],
      async (protocol, stage, drafts, grouping, misframe) => {
        const client = await prepare(url, protocol, stage);
        try {
          const sentUris = new Set(drafts.flatMap((d) => (d.items[0] === 8 ? [String(d.items[4])] : [])));
          const encoded = drafts.map((d) => encodeDraft(d, protocol));
          for (const frame of frames(encoded, protocol, grouping, misframe)) {
            client.send(frame);
          }
          await settle(client, sentUris);
        } finally {
          client.ws.terminate();
        }
        await checkAll();
      },
    );
  });

  test('garbage frames, wrong frame kinds and authentication attempts end documented', async () => {
    await fuzz(
      'wamp frames',
      80,
      [
        fc.constantFrom(...PROTOCOLS),
        fc.constantFrom<Stage>('fresh', 'joined', 'ticket', 'wampcra'),
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 200 }),
          fc.uint8Array({ maxLength: 200 }),
          fc.constantFrom(
            '[]',
            '[1]',
            '{}',
            'null',
            '[5]',
            '[5, "ticket-secret", {}]',
            '\x1e',
            '[1,"realm1",{}]\x1e',
          ),
          fc.constantFrom(
            Buffer.from([0xc1]),
            Buffer.from([0x90]),
            Buffer.from([0, 0, 0, 9, 0x91]),
            Buffer.from([0xff, 0xfe]),
          ),
        ),
        fc.constantFrom('text', 'binary'),
      ],
      async (protocol, stage, garbage, kind) => {
        const client = await prepare(url, protocol, stage);
        try {
          const bytes = typeof garbage === 'string' ? Buffer.from(garbage, 'latin1') : Buffer.from(garbage);
          if (kind === 'text' && typeof garbage === 'string') client.ws.send(garbage);
          else client.ws.send(bytes, { binary: kind === 'binary' });
          await settle(client, new Set());
        } finally {
          client.ws.terminate();
        }
        await checkAll();
      },
    );
  });

  test('CBOR built from random heads (tags, simple values, breaks, odd lengths and keys) ends documented', async () => {
    await fuzz(
      'wamp cbor frames',
      120,
      [
        fc.constantFrom('wamp.2.cbor' as const, 'wamp.2.cbor.batched' as const),
        fc.constantFrom<Stage>('fresh', 'joined', 'calling'),
        fc.constantFrom(...CBOR_PREFIXES),
        fc.array(cborToken(), { maxLength: 24 }),
      ],
      async (protocol, stage, prefix, tokens) => {
        const client = await prepare(url, protocol, stage);
        try {
          const message = Buffer.concat([prefix, ...tokens]);
          client.send(frames([message], protocol, [], false)[0]!);
          await settle(client, new Set());
        } finally {
          client.ws.terminate();
        }
        await checkAll();
      },
    );
  });

  test('deep payloads to subscribers and callees on every serializer: refused or delivered, never a crash', async () => {
    const subscribers = await Promise.all(
      (['json', 'msgpack', 'cbor'] as const).map(async (serialization) => {
        const client = await RawWampClient.join(url, { serialization });
        return { client, subscription: await client.subscribe('com.fuzz.deep') };
      }),
    );
    try {
      await fuzz(
        'wamp deep payloads',
        40,
        [
          fc.constantFrom(...PROTOCOLS),
          fc.integer({ min: 90, max: 30_000 }),
          fc.constantFrom('array' as const, 'object' as const),
          fc.constantFrom(16, 48),
        ],
        async (protocol, depth, kind, type) => {
          const client = await prepare(url, protocol, 'joined');
          try {
            const items =
              type === 16 ? [16, 7, { acknowledge: true }, 'com.fuzz.deep'] : [48, 7, {}, 'com.fuzz.nobody'];
            client.sendDraft({ items, deep: { depth, kind } });
            const reply = await within(
              client.next((m) => (m[0] === 8 && m[2] === 7) || (m[0] === 17 && m[1] === 7)),
              CASE_MS,
              'the answer',
            );
            // `depth` containers and the 1 (MessagePack's count), and the list around nested dicts.
            const levels = depth + 1 + (kind === 'object' ? 1 : 0);
            if (levels > 100) assert.deepEqual([reply[0], reply[4]], [8, 'wamp.error.invalid_argument']);
            else if (type === 16) assert.equal(reply[0], 17);
            else assert.equal(reply[4], 'wamp.error.no_such_procedure');
            await settle(client, new Set());
          } finally {
            client.ws.terminate();
          }
          await checkAll();
        },
      );
    } finally {
      for (const { client } of subscribers) client.close();
    }
  });
});
