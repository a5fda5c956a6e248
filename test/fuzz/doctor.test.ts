import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { WebSocketServer } from 'ws';
import { doctor } from '../../src/cli/doctor.js';
import { within } from '../helpers/raw-client.js';
import { anyJson, fuzz } from './harness.js';

/**
 * `herald doctor` against a fake server whose every answer is generated: raw bytes instead of HTTP,
 * HTTP with any status, headers and body, WebSocket upgrades that are refused or accepted and then
 * fed Pusher-like frames with odd fields, closes with any code. Whatever comes back, doctor must end
 * with exit 0 or 1 and a verdict, print no stack trace, and leave no error unhandled.
 */

/** Doctor's wait for each step: short, so that silent answers cost little. */
const STEP_SECONDS = '0.2';
const DEADLINE_MS = 10_000;

type Frame = string;

/** How the fake server treats one incoming connection. */
type Behaviour =
  | { kind: 'bytes'; bytes: Uint8Array; end: boolean }
  | {
      kind: 'http';
      status: number;
      headers: Record<string, string>;
      body: string | Uint8Array;
      ws: WsBehaviour;
    };

/** After an accepted upgrade: frames before and after the subscription, then maybe a close. */
interface WsBehaviour {
  accept: boolean;
  established: boolean;
  onSubscribe: Frame[];
  frames: Frame[];
  close: number | null;
}

const EVENTS = [
  'pusher:connection_established',
  'pusher:error',
  'pusher_internal:subscription_succeeded',
  'pusher:subscription_error',
  'herald-doctor',
  'pusher:ping',
];

/** A Pusher-like envelope with fields of any type; `{{channel}}` is replaced by the subscribed channel. */
const frame: fc.Arbitrary<Frame> = fc.oneof(
  fc
    .record(
      {
        event: fc.oneof(fc.constantFrom(...EVENTS), anyJson()),
        channel: fc.oneof(fc.constant('{{channel}}'), anyJson()),
        data: fc.oneof(
          anyJson(),
          anyJson().map((v) => JSON.stringify(v)),
          fc
            .record({ socket_id: anyJson(), code: anyJson(), message: anyJson() })
            .map((v) => JSON.stringify(v)),
        ),
      },
      { requiredKeys: [] },
    )
    .map((v) => JSON.stringify(v)),
  fc.string({ unit: 'binary', maxLength: 200 }),
  anyJson().map((v) => JSON.stringify(v) ?? 'null'),
);

const token = fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/);
const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,60}$/);

const behaviour: fc.Arbitrary<Behaviour> = fc.oneof(
  fc.record({
    kind: fc.constant('bytes' as const),
    bytes: fc.uint8Array({ maxLength: 600 }),
    end: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('http' as const),
    status: fc.oneof(
      { weight: 3, arbitrary: fc.constant(200) },
      { weight: 1, arbitrary: fc.constantFrom(401, 404, 503) },
      { weight: 1, arbitrary: fc.integer({ min: 200, max: 599 }) },
    ),
    headers: fc
      .tuple(
        fc.dictionary(
          token.filter(
            (name) => !['content-length', 'transfer-encoding', 'connection', 'date'].includes(name),
          ),
          headerValue,
          { maxKeys: 3 },
        ),
        fc.option(
          fc.oneof(
            headerValue,
            fc.date({ noInvalidDate: true }).map((d) => d.toUTCString()),
          ),
        ),
      )
      .map(([headers, date]) => (date === null ? headers : { ...headers, date })),
    body: fc.oneof(
      anyJson().map((v) => JSON.stringify(v) ?? ''),
      anyJson().map((v) => JSON.stringify({ error: v, status: v })),
      fc.uint8Array({ maxLength: 300 }),
    ),
    ws: fc.record({
      accept: fc.boolean(),
      established: fc.boolean(),
      onSubscribe: fc.array(
        fc.oneof(
          fc.constant(
            '{"event":"pusher_internal:subscription_succeeded","channel":"{{channel}}","data":"{}"}',
          ),
          anyJson().map((data) => JSON.stringify({ event: 'herald-doctor', channel: '{{channel}}', data })),
          frame,
        ),
        { maxLength: 3 },
      ),
      frames: fc.array(frame, { maxLength: 5 }),
      close: fc.option(
        fc.oneof(fc.constantFrom(1000, 1011, 4001, 4009, 4200), fc.integer({ min: 4000, max: 4999 })),
      ),
    }),
  }),
);

/** The fake server: connection number n is treated as `behaviours[n % length]`. */
let behaviours: Behaviour[] = [];
let connections = 0;
let fake: Server;
let url: string;
const sockets = new Set<Socket>();
const wss = new WebSocketServer({ noServer: true });
const http = createHttpServer((req, res) => {
  const b = current(req);
  if (b.kind !== 'http') return res.destroy();
  res.writeHead(b.status, b.headers).end(b.body);
});
http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
  const b = current(req);
  if (b.kind !== 'http' || !b.ws.accept) {
    socket.end(`HTTP/1.1 ${b.kind === 'http' ? b.status : 400} No\r\nContent-Length: 0\r\n\r\n`);
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    const { established, onSubscribe, frames, close } = b.ws;
    let channel = 'none';
    const send = (f: Frame) => ws.send(f.replaceAll('{{channel}}', channel));
    ws.on('error', () => {});
    ws.on('message', (data) => {
      const match = /"channel":"([^"]*)"/.exec(String(data));
      if (match) channel = match[1]!;
      for (const f of onSubscribe) send(f);
      for (const f of frames) send(f);
      if (close !== null) ws.close(close);
    });
    if (established) send('{"event":"pusher:connection_established","data":"{\\"socket_id\\":\\"1.2\\"}"}');
    for (const f of frames) send(f);
  });
});
http.on('clientError', (_err, socket) => socket.destroy());

/** Each HTTP request is tagged with its connection's behaviour when the connection arrives. */
const behaviourOf = new WeakMap<Socket, Behaviour>();
const current = (req: IncomingMessage) =>
  behaviourOf.get(req.socket as Socket) ?? { kind: 'bytes', bytes: new Uint8Array(), end: true };

const unhandled: unknown[] = [];
const record = (err: unknown) => unhandled.push(err);

before(async () => {
  process.on('uncaughtException', record);
  process.on('unhandledRejection', record);
  fake = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const b = behaviours[connections++ % behaviours.length]!;
    if (b.kind === 'bytes') {
      socket.write(b.bytes);
      if (b.end) socket.end();
      else socket.resume();
      return;
    }
    behaviourOf.set(socket, b);
    http.emit('connection', socket);
  });
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
});

after(async () => {
  process.off('uncaughtException', record);
  process.off('unhandledRejection', record);
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => fake.close(() => resolve()));
});

const VERDICT = /\n(Healthy\.|Healthy, with \d+ warnings?|Not healthy: \d+ checks? failed)[^\n]*\n$/;
const LINE = /^(herald doctor: .*|[✓!✗-] \S.*|Healthy.*|Not healthy.*)$/;

test('doctor ends with exit 0 or 1 and a verdict whatever the server answers', async () => {
  await fuzz(
    'doctor answers',
    40,
    [fc.array(behaviour, { minLength: 1, maxLength: 6 })],
    async (generated) => {
      behaviours = generated;
      connections = 0;
      let out = '';
      let err = '';
      const code = await within(
        doctor(['--url', url, '--timeout', STEP_SECONDS, '--webhook-url', `${url}/hook`], {
          out: (text) => {
            out += text;
          },
          err: (text) => {
            err += text;
          },
        }),
        DEADLINE_MS,
        'doctor to finish',
      );
      for (const s of sockets) s.destroy();
      assert.ok(code === 0 || code === 1, `exit ${code}`);
      assert.equal(err, '');
      assert.match(out, VERDICT);
      assert.doesNotMatch(out, /\n\s+at |Error:|undefined|\[object/);
      for (const l of out.trimEnd().split('\n')) assert.match(l, LINE);
      assert.deepEqual(unhandled, []);
    },
  );
});
