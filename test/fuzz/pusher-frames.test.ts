import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { pino } from 'pino';
import { CloseCode, ErrorCode } from '../../src/protocol/pusher/close-codes.js';
import { APP, startHerald, type TestHerald } from '../helpers/herald.js';
import { type PusherFrame, RawClient, within } from '../helpers/raw-client.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';
import { anyJson, deepJsonText, FUZZ_SEED, fuzz, nestedJsonText, Observer } from './harness.js';

/**
 * Everything a Pusher WebSocket client can send (docs/pusher.md, "WebSocket protocol"), with random JSON in
 * every field and correctly signed private, presence and sign-in requests among them, so that the
 * input reaches past authentication. Each case runs on a fresh connection, between valid requests on
 * that same connection, and checks:
 *
 * - every frame the server sends is a documented one (`pusher:error` with a documented code or null,
 *   `pusher:subscription_error`, `*subscription_succeeded`, `pusher:pong`, `pusher_internal:*`,
 *   channel events), and a close the server starts has a documented code;
 * - requests that must be answered are (subscribe, sign-in, ping, unknown events, bad frames), and a
 *   client event that got no error reached the other subscriber;
 * - the valid requests around the fuzzed ones keep working, the connection answers a final ping, the
 *   server logged no error, and the `Observer` invariants hold.
 */

const MAX_MESSAGE = 65_536;
/** A second connection subscribed to these; it receives the client events the fuzzed one sends. */
const PEER_CHANNELS = ['private-fuzz', 'presence-fuzz'] as const;
const CHANNEL_NAMES = [
  ...PEER_CHANNELS,
  'public-fuzz',
  'private-encrypted-fuzz',
  'cache-fuzz',
  'private-cache-fuzz',
  'presence-cache-fuzz',
  '#server-to-user-u1',
  '#server-to-user-__proto__',
  Observer.CHANNEL,
  '__proto__',
  'constructor',
  'toString',
  '',
  'x'.repeat(165),
];
const DOCUMENTED_CODES = new Set<number>([...Object.values(CloseCode), ...Object.values(ErrorCode)]);
/** Server events other than errors that a Pusher client may receive. */
const ANSWERS = new Set([
  'pusher:connection_established',
  'pusher:pong',
  'pusher:ping',
  'pusher:signin_success',
  'pusher:cache_miss',
]);

let server: TestHerald;
let receiver: WebhookReceiver;
let webhooksSeen = 0;
let observer: Observer;
let peer: RawClient;
const peerLog: string[] = [];
const errorsLogged: string[] = [];

before(async () => {
  const logger = pino({ level: 'error' }, { write: (line: string) => errorsLogged.push(line) });
  // Client data also flows into webhooks (client_event, member_added, …): those requests are checked too.
  receiver = await WebhookReceiver.start();
  server = await startHerald(
    {
      maxMessageBytes: MAX_MESSAGE,
      apps: [
        {
          ...APP,
          clientEvents: true,
          watchlistEvents: true,
          subscriptionCount: true,
          maxClientEventsPerSecond: 1000,
          webhooks: [{ url: receiver.url }],
          batchWebhooks: true,
        },
      ],
    },
    { logger },
  );
  observer = await Observer.connect(server);
  const connection = await RawClient.connect(server.wsUrl());
  peer = connection.client;
  peer.ws.on('message', (data) => peerLog.push(data.toString()));
  for (const channel of PEER_CHANNELS) {
    const reply = await within(
      peer.subscribe(channel, signedSubscribe(connection.socketId, channel)),
      5000,
      channel,
    );
    assert.equal(reply.event, 'pusher_internal:subscription_succeeded');
  }
});
after(async () => {
  observer?.close();
  peer?.close();
  await server?.stop();
  await receiver?.close();
});

const hmac = (text: string) => createHmac('sha256', APP.secret).update(text).digest('hex');

/** `auth` (and `channel_data`) as the app's auth endpoint signs them (docs/pusher.md). */
function signedSubscribe(socketId: string, channel: string, member = '{"user_id":"peer"}') {
  return channel.startsWith('presence-')
    ? { auth: `${APP.key}:${hmac(`${socketId}:${channel}:${member}`)}`, channel_data: member }
    : { auth: `${APP.key}:${hmac(`${socketId}:${channel}`)}` };
}

// ---- Generated JSON text. Deep values are built as text: the server parses text, not objects. ----

const quote = (s: string) => JSON.stringify(s);

/** The JSON text of any value a field could hold. */
const jsonText: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: anyJson().map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: deepJsonText() },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 55, max: 70 }), fc.constantFrom('array' as const, 'object' as const))
      .map(([depth, kind]) => nestedJsonText(depth, kind)),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '"7"',
      '"-1.5e3"',
      '"null"',
      '"true"',
      '"{}"',
      '"[]"',
      '1e400',
      '-0',
      '1e21',
      'null',
      '{"__proto__":{"polluted":1}}',
      '{"constructor":{"prototype":{"polluted":1}}}',
      '{"__proto__":[]}',
    ),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1000, max: MAX_MESSAGE + 1000 }).map((n) => quote('x'.repeat(n))),
  },
);

/** A JSON text that is not a string (for fields that must be one). */
const nonStringText = jsonText.filter((t) => !t.startsWith('"'));

const userIdText = fc.oneof(
  fc.constantFrom(
    '"__proto__"',
    '"constructor"',
    '"toString"',
    '"hasOwnProperty"',
    '"u1"',
    '""',
    '7',
    '1e21',
    'null',
  ),
  jsonText,
);

/** `{"k":v,…}` from pairs whose values are JSON texts; absent values are left out. */
const objectText = (pairs: [string, string | undefined][]) =>
  `{${pairs
    .filter((p): p is [string, string] => p[1] !== undefined)
    .map(([k, v]) => `${quote(k)}:${v}`)
    .join(',')}}`;

const memberText = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.tuple(userIdText, fc.option(jsonText, { nil: undefined })).map(([id, info]) =>
      objectText([
        ['user_id', id],
        ['user_info', info],
      ]),
    ),
  },
  { weight: 1, arbitrary: jsonText },
);

const userDataText = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        userIdText,
        fc.option(jsonText, { nil: undefined }),
        fc.option(
          fc.oneof(
            fc.array(userIdText, { maxLength: 5 }).map((ids) => `[${ids.join(',')}]`),
            jsonText,
          ),
          {
            nil: undefined,
          },
        ),
      )
      .map(([id, info, watchlist]) =>
        objectText([
          ['id', id],
          ['user_info', info],
          ['watchlist', watchlist],
        ]),
      ),
  },
  { weight: 1, arbitrary: jsonText },
);

/** How a request is signed: correctly, with the wrong secret or key, or with any JSON. */
type AuthChoice = 'valid' | 'badSignature' | 'wrongKey' | 'absent' | { text: string };
const authChoice: fc.Arbitrary<AuthChoice> = fc.oneof(
  { weight: 6, arbitrary: fc.constant('valid' as const) },
  { weight: 1, arbitrary: fc.constantFrom('badSignature' as const, 'wrongKey' as const, 'absent' as const) },
  { weight: 1, arbitrary: jsonText.map((text) => ({ text })) },
);

function authText(choice: AuthChoice, signed: string): string | undefined {
  if (choice === 'absent') return undefined;
  if (typeof choice === 'object') return choice.text;
  const key = choice === 'wrongKey' ? 'other-key' : APP.key;
  const signature = choice === 'badSignature' ? hmac(`x${signed}`) : hmac(signed);
  return quote(`${key}:${signature}`);
}

/** A string field given as a string (the right type), as any other JSON, or left out. */
type Field = { string: string } | { text: string } | undefined;
const field = (content: fc.Arbitrary<string>): fc.Arbitrary<Field> =>
  fc.oneof(
    { weight: 5, arbitrary: content.map((string) => ({ string })) },
    { weight: 1, arbitrary: jsonText.map((text) => ({ text })) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
const fieldText = (f: Field) => (f === undefined ? undefined : 'string' in f ? quote(f.string) : f.text);

const channelName = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...CHANNEL_NAMES) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);

/** What the server owes a frame: an answer of one of these events, or nothing in particular. */
type Owed = readonly string[] | 'nothing';

interface FuzzFrame {
  kind: string;
  owed: Owed;
  text(socketId: string): string;
  /** For client events: the channel and event, to look for at the peer when no error came back. */
  relay?: { channel: string; event: string };
}

/** `data` as an object, or as a JSON string holding it (older clients). */
const wrapData = (text: string, asString: boolean) => (asString ? quote(text) : text);

const subscribe: fc.Arbitrary<FuzzFrame> = fc
  .record({
    channel: field(channelName),
    channelData: field(memberText),
    auth: authChoice,
    asString: fc.boolean(),
    extra: fc.option(fc.tuple(fc.constantFrom('__proto__', 'constructor', 'extra'), jsonText), {
      nil: undefined,
    }),
  })
  .map(({ channel, channelData, auth, asString, extra }) => ({
    kind: 'subscribe',
    owed: ['pusher_internal:subscription_succeeded', 'pusher:subscription_error', 'pusher:error'],
    text: (socketId: string) => {
      const name = channel && 'string' in channel ? channel.string : '';
      const data = channelData && 'string' in channelData ? channelData.string : undefined;
      const signed =
        name.startsWith('presence-') && data !== undefined
          ? `${socketId}:${name}:${data}`
          : `${socketId}:${name}`;
      const body = objectText([
        ['channel', fieldText(channel)],
        ['auth', authText(auth, signed)],
        ['channel_data', fieldText(channelData)],
        ...(extra ? [extra] : []),
      ]);
      return objectText([
        ['event', quote('pusher:subscribe')],
        ['data', wrapData(body, asString)],
      ]);
    },
  }));

const unsubscribe: fc.Arbitrary<FuzzFrame> = fc
  .record({
    channel: field(channelName),
    asString: fc.boolean(),
    whole: fc.option(jsonText, { nil: undefined }),
  })
  .map(({ channel, asString, whole }) => ({
    kind: 'unsubscribe',
    owed: 'nothing',
    text: () =>
      objectText([
        ['event', quote('pusher:unsubscribe')],
        ['data', whole ?? wrapData(objectText([['channel', fieldText(channel)]]), asString)],
      ]),
  }));

const signin: fc.Arbitrary<FuzzFrame> = fc
  .record({ userData: field(userDataText), auth: authChoice, asString: fc.boolean() })
  .map(({ userData, auth, asString }) => ({
    kind: 'signin',
    owed: ['pusher:signin_success', 'pusher:error'],
    text: (socketId: string) => {
      const data = userData && 'string' in userData ? userData.string : '';
      const body = objectText([
        ['user_data', fieldText(userData)],
        ['auth', authText(auth, `${socketId}::user::${data}`)],
      ]);
      return objectText([
        ['event', quote('pusher:signin')],
        ['data', wrapData(body, asString)],
      ]);
    },
  }));

const pingOrPong: fc.Arbitrary<FuzzFrame> = fc
  .tuple(fc.constantFrom('pusher:ping', 'pusher:pong'), fc.option(jsonText, { nil: undefined }))
  .map(([event, data]) => ({
    kind: event,
    // A ping too large to be read is refused like any other message.
    owed: event === 'pusher:ping' ? ['pusher:pong', 'pusher:error'] : 'nothing',
    text: () =>
      objectText([
        ['event', quote(event)],
        ['data', data],
      ]),
  }));

const clientEvent: fc.Arbitrary<FuzzFrame> = fc
  .record({
    name: fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('__proto__', 'x'.repeat(200))),
    channel: field(channelName),
    data: fc.option(jsonText, { nil: undefined }),
  })
  .map(({ name, channel, data }) => {
    const event = `client-${name}`;
    return {
      kind: 'client event',
      owed: 'nothing',
      text: () =>
        objectText([
          ['event', quote(event)],
          ['channel', fieldText(channel)],
          ['data', data],
        ]),
      ...(channel && 'string' in channel ? { relay: { channel: channel.string, event } } : {}),
    };
  });

const unknownEvent: fc.Arbitrary<FuzzFrame> = fc
  .tuple(
    fc.oneof(
      fc.constantFrom(
        'pusher:error',
        'pusher:signin_success',
        'pusher:connection_established',
        'pusher:cache_miss',
        'pusher_internal:subscription_succeeded',
        'pusher:subscribe ',
        'PUSHER:PING',
        '__proto__',
        'constructor',
      ),
      fc.string({ maxLength: 30 }).map((s) => `pusher:${s}`),
    ),
    fc.option(jsonText, { nil: undefined }),
  )
  .filter(
    ([event]) =>
      !['pusher:ping', 'pusher:pong', 'pusher:subscribe', 'pusher:unsubscribe', 'pusher:signin'].includes(
        event,
      ),
  )
  .map(([event, data]) => ({
    kind: 'unknown event',
    owed: ['pusher:error'],
    text: () =>
      objectText([
        ['event', quote(event)],
        ['data', data],
      ]),
  }));

/** Envelopes that are wrong as a whole: no object, no string event, a channel that is no string. */
const badEnvelope: fc.Arbitrary<FuzzFrame> = fc
  .oneof(
    jsonText.filter((t) => !t.startsWith('{')),
    fc.string({ maxLength: 60 }).filter((s) => {
      try {
        const v = JSON.parse(s);
        return v === null || typeof v !== 'object' || Array.isArray(v);
      } catch {
        return true;
      }
    }),
    nonStringText.map((event) => objectText([['event', event]])),
    fc
      .tuple(fc.constantFrom('pusher:ping', 'pusher:subscribe', 'client-x'), nonStringText)
      .map(([event, channel]) =>
        objectText([
          ['event', quote(event)],
          ['channel', channel],
        ]),
      ),
    jsonText.map((inner) => `{"__proto__":{"event":"pusher:ping"},"data":${inner}}`),
  )
  .map((text) => ({ kind: 'bad envelope', owed: ['pusher:error'], text: () => text }));

const anyFrame: fc.Arbitrary<FuzzFrame> = fc
  .oneof(
    { weight: 4, arbitrary: subscribe },
    { weight: 2, arbitrary: unsubscribe },
    { weight: 3, arbitrary: signin },
    { weight: 1, arbitrary: pingOrPong },
    { weight: 4, arbitrary: clientEvent },
    { weight: 1, arbitrary: unknownEvent },
    { weight: 2, arbitrary: badEnvelope },
  )
  .map((frame) =>
    // Counterexamples print as the frame's text (the socket id is the connection's own).
    Object.assign(frame, {
      [fc.toStringMethod]: () => `${frame.kind}: ${frame.text('<socket_id>').slice(0, 400)}`,
    }),
  );

// ---- Checking what comes back. ----

/** Fails unless `raw` is a frame the Pusher protocol documents. */
function assertDocumented(raw: string, who: string): PusherFrame {
  const frame = JSON.parse(raw) as PusherFrame;
  assert.ok(
    frame !== null && typeof frame === 'object' && !Array.isArray(frame),
    `${who}: not an object: ${raw}`,
  );
  assert.equal(typeof frame.event, 'string', `${who}: no event: ${raw.slice(0, 200)}`);
  const { event } = frame;
  if (event === 'pusher:error') {
    const data = frame.data as { code?: unknown; message?: unknown };
    assert.ok(data !== null && typeof data === 'object', `${who}: error without data: ${raw.slice(0, 200)}`);
    assert.ok(
      data.code === null || DOCUMENTED_CODES.has(data.code as number),
      `${who}: undocumented code ${String(data.code)}`,
    );
    assert.equal(typeof data.message, 'string', `${who}: error without message`);
  } else if (event === 'pusher:subscription_error') {
    const data = frame.data as { type?: unknown; error?: unknown; status?: unknown };
    assert.equal(typeof frame.channel, 'string', `${who}: subscription_error without channel`);
    assert.equal(typeof data?.type, 'string', `${who}: subscription_error without type`);
    assert.equal(typeof data?.error, 'string', `${who}: subscription_error without error`);
    assert.equal(typeof data?.status, 'number', `${who}: subscription_error without status`);
  } else if (event === 'pusher_internal:subscription_succeeded' && frame.channel?.startsWith('presence-')) {
    // Every member is listed in ids and, as an own key, in hash (docs/pusher.md, "WebSocket protocol").
    const { presence } = JSON.parse(frame.data as string) as {
      presence: { ids: string[]; hash: Record<string, unknown>; count: number };
    };
    assert.deepEqual(
      Object.keys(presence.hash).sort(),
      [...presence.ids].sort(),
      `${who}: ids and hash differ`,
    );
    assert.equal(presence.count, presence.ids.length, `${who}: count is not the number of ids`);
  } else if (event.startsWith('pusher_internal:')) {
    if (event !== 'pusher_internal:watchlist_events')
      assert.equal(typeof frame.channel, 'string', `${who}: ${event} without channel`);
  } else {
    assert.ok(
      ANSWERS.has(event) || (typeof frame.channel === 'string' && !event.startsWith('pusher:')),
      `${who}: undocumented frame ${raw.slice(0, 200)}`,
    );
  }
  return frame;
}

const WEBHOOK_EVENTS = new Set([
  'channel_occupied',
  'channel_vacated',
  'member_added',
  'member_removed',
  'client_event',
  'cache_miss',
  'subscription_count',
]);

/** A webhook request carries documented events, with client data as strings (docs/webhooks.md). */
function assertWebhookBody(body: { time_ms: number; events: { name: string; [field: string]: unknown }[] }) {
  assert.equal(typeof body.time_ms, 'number');
  for (const event of body.events) {
    assert.ok(WEBHOOK_EVENTS.has(event.name), `webhook event ${event.name}`);
    assert.equal(typeof event.channel, 'string');
    if (event.name === 'client_event') {
      assert.equal(typeof event.data, 'string', 'client_event data is a string');
      assert.equal(typeof event.event, 'string');
      assert.equal(typeof event.socket_id, 'string');
    }
    if (event.user_id !== undefined) assert.equal(typeof event.user_id, 'string');
  }
}

/** Resolves with the frame, or with undefined once the connection closed first. */
function untilClosed<T>(client: RawClient, promise: Promise<T>, what: string): Promise<T | undefined> {
  return within(Promise.race([promise, client.closed.then(() => undefined)]), 5000, what);
}

function assertClose(close: { code: number; reason: string }, what: string): void {
  assert.ok(
    DOCUMENTED_CODES.has(close.code),
    `${what}: closed with undocumented code ${close.code} (${close.reason})`,
  );
}

let cases = 0;

test('fuzzed Pusher frames get documented answers, between valid traffic on the same connection', async () => {
  await fuzz(
    'pusher frames',
    300,
    [fc.array(anyFrame, { minLength: 1, maxLength: 6 }), userIdText],
    async (frames, presenceUser) => {
      const n = ++cases;
      const { client, socketId } = await within(RawClient.connect(server.wsUrl()), 5000, 'handshake');
      const log: string[] = [];
      client.ws.on('message', (data) => log.push(data.toString()));
      try {
        // Valid traffic first: a private and a presence subscription, the member chosen at random.
        const member = objectText([['user_id', presenceUser]]);
        for (const channel of PEER_CHANNELS)
          client.send({
            event: 'pusher:subscribe',
            data: { channel, ...signedSubscribe(socketId, channel, member) },
          });
        const sync = async (step: number): Promise<number | undefined> => {
          const channel = `sync-${n}-${step}`;
          client.send({ event: 'pusher:subscribe', data: { channel } });
          const reply = await untilClosed(
            client,
            client.next((f) => f.channel === channel),
            `sync ${channel} after ${step === 0 ? 'setup' : frames[step - 1]!.kind}`,
          );
          if (!reply) return undefined;
          assert.equal(
            reply.event,
            'pusher_internal:subscription_succeeded',
            'a valid subscription between fuzzed frames',
          );
          return log.findIndex((raw) => raw.includes(`"channel":"${channel}"`));
        };
        let mark = await sync(0);
        const relays: { channel: string; event: string }[] = [];
        for (const [i, frame] of frames.entries()) {
          if (mark === undefined) break;
          const from = mark + 1;
          client.send(frame.text(socketId));
          mark = await sync(i + 1);
          if (mark === undefined) break;
          const answers = log.slice(from, mark).map((raw) => JSON.parse(raw) as PusherFrame);
          const owed = frame.owed;
          if (owed !== 'nothing') {
            assert.ok(
              answers.some((a) => owed.includes(a.event)),
              `${frame.kind} got no answer (${answers.map((a) => a.event).join(', ') || 'nothing'}): ${frame.text(socketId).slice(0, 300)}`,
            );
          }
          const refused = answers.some((a) => a.event === 'pusher:error');
          if (frame.relay && !refused && (PEER_CHANNELS as readonly string[]).includes(frame.relay.channel)) {
            relays.push(frame.relay);
          }
        }
        // Client events that were not refused reached the other subscriber.
        for (const { channel, event } of relays) {
          await within(
            peer.next((f) => f.channel === channel && f.event === event),
            5000,
            `${event} relayed on ${channel}`,
          );
        }
        if (mark !== undefined) {
          client.frames.length = 0; // every answer so far is in `log`
          // Still open: valid requests keep working, and it still answers a ping.
          const again = await untilClosed(
            client,
            client.subscribe('private-fuzz', signedSubscribe(socketId, 'private-fuzz')),
            'valid private subscription at the end',
          );
          if (again) assert.equal(again.event, 'pusher_internal:subscription_succeeded');
          const event = `client-final-${n}`;
          client.send({ event, channel: 'private-fuzz', data: { n } });
          if (again)
            await within(
              peer.next((f) => f.event === event),
              5000,
              'final client event at the peer',
            );
          client.send({ event: 'pusher:ping', data: {} });
          await untilClosed(client, client.next('pusher:pong'), 'final pong');
        }
        for (const raw of log) assertDocumented(raw, 'fuzzed connection');
        if (client.ws.readyState !== client.ws.OPEN) assertClose(await client.closed, 'fuzzed connection');
      } finally {
        client.close();
      }
      for (const raw of peerLog.splice(0)) assertDocumented(raw, 'peer');
      peer.frames.length = 0;
      assert.deepEqual(errorsLogged.splice(0), [], 'the server logged no error');
      for (const { body } of receiver.requests.slice(webhooksSeen)) assertWebhookBody(body);
      webhooksSeen = receiver.requests.length;
      assert.equal(peer.ws.readyState, peer.ws.OPEN, 'the peer is still connected');
      await observer.check();
    },
  );
  console.log(`# fuzz pusher frames: ${cases} cases, ${webhooksSeen} webhook requests, seed ${FUZZ_SEED}`);
});
