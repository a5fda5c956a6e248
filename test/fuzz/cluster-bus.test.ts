import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import {
  brokerSkip,
  deleteRedisPrefix,
  destroyNatsBuckets,
  NATS_URL,
  REDIS_URL,
  uniquePrefix,
} from '../helpers/brokers.js';
import {
  allTopic,
  BusClient,
  channelTopic,
  type Driver,
  nodeTopic,
  recordingLogger,
} from '../helpers/bus.js';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { RawClient, within } from '../helpers/raw-client.js';
import { RawWampClient } from '../helpers/wamp-client.js';
import { anyJson, deepJsonText, fuzz, nestedJsonText, Observer } from './harness.js';

/**
 * The cluster bus as an attack surface: whoever can publish on the broker sends random bytes and
 * random messages that look like Herald's own (the right envelope, every message type, fields of the
 * wrong type, missing or huge, deep JSON, Pusher and WAMP namespaces, the operations the nodes answer,
 * the WAMP routers' call messages) straight to the topics a node listens on. After every case the
 * node still serves: the harness's Pusher observer, and a WAMP subscriber that still gets a
 * publication from the bus and one from a local publisher. Nothing is logged as an error: what was
 * refused is a warning.
 */

const TOPIC = 'com.fuzz.bus';
const OBSERVED = Observer.CHANNEL;

/** Operations the nodes answer; kill procedures are left out (a valid kill from a node does kill). */
const OPS = [
  'pusher.subscriptions',
  'pusher.channels',
  'pusher.connections',
  'pusher.terminate',
  'pusher.watchlist',
  'webhooks.cancel-held',
  'wamp.lookup',
  'wamp.meta',
  'wamp.sessions',
];
const META_PROCEDURES = [
  'wamp.session.count',
  'wamp.session.list',
  'wamp.session.get',
  'wamp.subscription.list',
];

/** A value of any JSON type, sometimes deep or huge: what a field holds when it has the wrong type. */
const wild = (): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 6, arbitrary: anyJson() },
    { weight: 1, arbitrary: deepJsonText() },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 10, max: 3000 }).map((d) => JSON.parse(nestedJsonText(d, 'object'))),
    },
    { weight: 1, arbitrary: fc.integer({ min: 10_000, max: 60_000 }).map((n) => 'x'.repeat(n)) },
    { weight: 1, arbitrary: fc.constantFrom(Number.MAX_SAFE_INTEGER + 2, -1, 0, 1.5, 1e308) },
  );

const DROP = Symbol('drop');

const isDict = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * `valid` with up to two of its fields replaced by anything (see `wild`) or dropped: mostly the right
 * shape, so that each layer's own checks, not only the first, are reached.
 */
function mutated(valid: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<Record<string, unknown>> {
  return valid.chain((v) =>
    fc
      .array(fc.tuple(fc.constantFrom(...Object.keys(v), 'extra'), fc.oneof(wild(), fc.constant(DROP))), {
        maxLength: 2,
      })
      .map((changes) => {
        const out: Record<string, unknown> = { ...v };
        for (const [key, value] of changes) {
          if (value === DROP) delete out[key];
          else out[key] = value;
        }
        return out;
      }),
  );
}

const json = (a: fc.Arbitrary<unknown>) => a.map((v) => JSON.stringify(v));
const ids = fc.oneof(fc.integer({ min: 1, max: 2 ** 53 }), fc.integer({ min: 1, max: 5 }));
/** Arguments as JSON text: a list, or not, sometimes deep. */
const argsText = fc.oneof(
  { weight: 4, arbitrary: json(fc.array(anyJson(), { maxLength: 3 })) },
  { weight: 1, arbitrary: fc.constantFrom('{}', 'nope', '[1') },
  { weight: 1, arbitrary: deepJsonText() },
);

/** A Pusher channel event as another node publishes it. */
const pusherFrame = (channel: string) =>
  json(
    mutated(
      fc.record({
        event: fc.constantFrom('client-x', 'pusher_internal:member_removed', 'e'),
        channel: fc.constant(channel),
        data: fc.oneof(fc.string(), json(anyJson())),
      }),
    ),
  );

/** A WAMP publication as another node's broker sends it. */
const wirePublication = json(
  mutated(
    fc.record({
      t: fc.constantFrom(TOPIC, 'com.other'),
      p: ids,
      d: mutated(fc.record({ publisher: ids, publisher_authid: fc.string() }, { requiredKeys: [] })),
      o: mutated(
        fc.record({
          excludeMe: fc.boolean(),
          disclose: fc.boolean(),
          retain: fc.boolean(),
          exclude: fc.array(ids, { maxLength: 2 }),
        }),
      ),
      a: argsText,
      k: json(fc.dictionary(fc.string(), anyJson(), { maxKeys: 2 })),
    }),
  ),
);

/** A WAMP dealer's message to the dealer on another node, of each kind. */
const nodeMessage = (node: string) => {
  const rpc = fc.oneof(
    mutated(
      fc.record({
        k: fc.constant('call'),
        c: ids,
        ca: fc.string(),
        cr: fc.string(),
        q: ids,
        u: fc.constantFrom('com.fuzz.proc', 'wamp.session.count'),
        o: fc.constant({}),
        a: argsText,
      }),
    ),
    mutated(
      fc.record({ k: fc.constant('cancel'), c: ids, q: ids, o: fc.constantFrom({}, { mode: 'kill' }) }),
    ),
    mutated(fc.record({ k: fc.constant('gone'), c: ids })),
    mutated(
      fc.record({
        k: fc.constant('out'),
        c: ids,
        m: fc.oneof(
          fc.tuple(fc.constant(50), ids, fc.constant({})),
          fc.tuple(fc.constant(8), fc.constant(48), ids, fc.constant({}), fc.string()),
          fc.array(anyJson(), { maxLength: 5 }),
        ),
        a: argsText,
      }),
    ),
  );
  return json(
    mutated(
      fc.record({ n: fc.constantFrom(randomUUID(), node), r: fc.constantFrom('realm1', 'nope'), m: rpc }),
    ),
  );
};

/** A payload for `op`, as a node would send it, mutated. */
const opPayload = (op: string): fc.Arbitrary<unknown> => {
  const shapes: Record<string, fc.Arbitrary<Record<string, unknown>>> = {
    'pusher.subscriptions': fc.record({ appId: fc.constant('app-id'), channel: fc.constant(OBSERVED) }),
    'pusher.channels': fc.record({ appId: fc.constantFrom('app-id', 'other') }),
    'pusher.connections': fc.record({ appId: fc.constantFrom('app-id', 'other') }),
    'pusher.terminate': fc.record({ appId: fc.constant('app-id'), userId: fc.string({ maxLength: 8 }) }),
    'pusher.watchlist': fc.record({
      appId: fc.constant('app-id'),
      userId: fc.string({ maxLength: 8 }),
      name: fc.constantFrom('online', 'offline', 'maybe'),
    }),
    'webhooks.cancel-held': fc.record({
      appId: fc.constant('app-id'),
      channel: fc.constant(OBSERVED),
      userId: fc.string(),
    }),
    'wamp.lookup': fc.record({
      realm: fc.constant('realm1'),
      procedure: fc.constant('com.fuzz.proc'),
      match: fc.constantFrom('exact', 'prefix', 'wildcard', 'fuzzy'),
    }),
    'wamp.meta': fc.record({
      realm: fc.constant('realm1'),
      node: fc.uuid(),
      procedure: fc.constantFrom(...META_PROCEDURES),
      args: fc.array(anyJson(), { maxLength: 2 }),
      kwargs: fc.constant({}),
    }),
    'wamp.sessions': fc.record({ realm: fc.constantFrom('realm1', 'nope') }),
  };
  return fc.oneof(
    { weight: 6, arbitrary: mutated(shapes[op] ?? fc.constant({})) },
    { weight: 1, arbitrary: wild() },
  );
};

interface Target {
  prefix: string;
  node: string;
}

/**
 * One message and its topic: a bus envelope of every type, mostly on the topic it belongs to, with
 * its fields mutated; or random bytes; or deep JSON.
 */
function message(t: Target): fc.Arbitrary<[string, string | Uint8Array]> {
  const all = allTopic(t.prefix);
  const own = nodeTopic(t.prefix, t.node);
  const sender = fc.oneof(
    { weight: 4, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: fc.constant(t.node) },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  );
  const channels: [string, string, fc.Arbitrary<string>][] = [
    ['pusher:app-id', OBSERVED, pusherFrame(OBSERVED)],
    ['pusher:app-id', 'presence-x', pusherFrame('presence-x')],
    ['wamp:realm1', '', wirePublication],
    [`wamp-node:${t.node}`, '', nodeMessage(t.node)],
  ];
  const channelMessage = fc.constantFrom(...channels).chain(([ns, ch, text]) =>
    fc.tuple(
      fc.oneof(
        { weight: 5, arbitrary: fc.constant(channelTopic(t.prefix, ns, ch)) },
        { weight: 1, arbitrary: fc.constant(all) },
      ),
      json(
        mutated(
          fc.record(
            {
              t: fc.constant('msg'),
              n: sender,
              ns: fc.constant(ns),
              ch: fc.constant(ch),
              d: text,
              x: fc.string(),
              s: fc.option(fc.record({ e: fc.string({ minLength: 1 }), o: fc.integer({ min: 1 }) })),
            },
            { requiredKeys: ['t', 'n', 'ns', 'ch', 'd'] },
          ),
        ),
      ),
    ),
  );
  const control = fc.tuple(
    fc.constantFrom(all, own),
    fc.constantFrom(...OPS, 'no.such.op').chain((op) =>
      json(
        fc.oneof(
          mutated(
            fc.record({
              t: fc.constant('req'),
              n: sender,
              id: fc.uuid(),
              op: fc.constant(op),
              p: opPayload(op),
            }),
          ),
          mutated(fc.record({ t: fc.constant('cast'), n: sender, op: fc.constant(op), p: opPayload(op) })),
          mutated(fc.record({ t: fc.constant('res'), n: sender, id: fc.uuid(), r: anyJson() })),
          mutated(fc.record({ t: fc.constant('hb'), n: sender })),
          mutated(fc.record({ t: fc.constant('bye'), n: sender, h: fc.integer({ min: 1, max: 120_000 }) })),
        ),
      ),
    ),
  );
  const topics = [all, own, ...channels.map(([ns, ch]) => channelTopic(t.prefix, ns, ch))];
  const junk = fc.tuple(
    fc.constantFrom(...topics),
    fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      deepJsonText(),
      fc.string({ unit: 'binary', maxLength: 200 }),
    ),
  );
  return fc.oneof(
    { weight: 4, arbitrary: channelMessage },
    { weight: 3, arbitrary: control },
    { weight: 1, arbitrary: junk },
  );
}

const DRIVERS: Driver[] = ['redis', 'nats'];

for (const driver of DRIVERS) {
  describe(`fuzz: the cluster bus over ${driver}`, { skip: await brokerSkip(driver) }, () => {
    const prefix = uniquePrefix(`fuzz-bus-${driver}`);
    const { logger, records } = recordingLogger();
    let server: TestHerald;
    let bus: BusClient;
    let observer: Observer;
    /** Another subscriber of the observed channel: what the bus delivers to it must be well-formed. */
    let watcher: RawClient;
    let subscriber: RawWampClient;
    let publisher: RawWampClient;
    let subscription: number;
    let node: string;
    let probes = 0;

    before(async () => {
      bus = await BusClient.connect(driver, prefix);
      server = await startHerald(
        { adapter: { driver, url: driver === 'redis' ? REDIS_URL : NATS_URL, prefix } },
        { logger },
      );
      observer = await Observer.connect(server);
      watcher = (await RawClient.connect(server.wsUrl())).client;
      await within(watcher.subscribe(OBSERVED), 5000, 'the watcher subscription');
      subscriber = await RawWampClient.join(`ws://127.0.0.1:${server.port}/ws`);
      publisher = await RawWampClient.join(`ws://127.0.0.1:${server.port}/ws`);
      subscription = await subscriber.subscribe(TOPIC);
      node = await bus.nodeId();
    });

    after(async () => {
      observer?.close();
      watcher?.close();
      subscriber?.close();
      publisher?.close();
      await server?.stop();
      await bus?.close();
      if (driver === 'redis') await deleteRedisPrefix(prefix);
      else await destroyNatsBuckets(prefix, ['presence', 'occupancy', 'cache', 'outbox']);
    });

    /** The WAMP subscriber gets a publication from the bus and one from a session here. */
    async function wampStillDelivers(): Promise<void> {
      const fromBus = ++probes;
      const text = JSON.stringify({
        t: TOPIC,
        p: 1_000_000 + fromBus,
        d: {},
        o: { excludeMe: true, disclose: false, retain: false },
        a: JSON.stringify([`bus-${fromBus}`]),
      });
      const envelope = { t: 'msg', n: randomUUID(), ns: 'wamp:realm1', ch: '', d: text };
      const arrived = subscriber.next((m) => m[0] === 36 && (m[4] as unknown[])?.[0] === `bus-${fromBus}`);
      await bus.publish(channelTopic(prefix, 'wamp:realm1', ''), JSON.stringify(envelope));
      const event = await within(arrived, 5000, `WAMP publication bus-${fromBus}`);
      assert.equal(event[1], subscription);

      const local = subscriber.next((m) => m[0] === 36 && (m[4] as unknown[])?.[0] === `local-${fromBus}`);
      publisher.send([16, publisher.id(), {}, TOPIC, [`local-${fromBus}`]]);
      await within(local, 5000, `WAMP publication local-${fromBus}`);
    }

    test('random bytes and random messages on every topic the node listens on', async () => {
      const target: Target = { prefix, node };
      await fuzz(
        `cluster bus over ${driver}`,
        200,
        [fc.array(message(target), { minLength: 1, maxLength: 4 })],
        async (batch) => {
          const mark = records.length;
          for (const [topic, payload] of batch) await bus.publish(topic, payload);
          await observer.check();
          await wampStillDelivers();
          const errors = records.slice(mark).filter((r) => r.level >= 50);
          assert.deepEqual(errors, [], 'a bus message made an error, not a warning');
          // What reached clients from the bus is a frame of their channel, an EVENT of their subscription.
          for (const f of watcher.frames.splice(0)) {
            assert.ok(typeof f.event === 'string' && f.channel === OBSERVED, `a frame: ${JSON.stringify(f)}`);
          }
          for (const m of subscriber.messages.splice(0)) {
            const [type, sub, publication, details, args, kwargs] = m;
            const ok =
              type === 36 &&
              sub === subscription &&
              Number.isInteger(publication) &&
              isDict(details) &&
              (args === undefined || Array.isArray(args)) &&
              (kwargs === undefined || isDict(kwargs));
            assert.ok(ok, `an EVENT: ${JSON.stringify(m).slice(0, 300)}`);
          }
        },
      );
    });
  });
}
