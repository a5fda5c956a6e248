import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { startHerald, type TestHerald } from '../helpers/herald.js';
import { errorOf, RawHttp, type RawResponse } from '../helpers/raw-http.js';
import { WAMP_SUBPROTOCOLS } from '../helpers/wamp-client.js';
import { fuzz, Observer } from './harness.js';

/**
 * WebSocket upgrade requests with generated request targets and handshake headers, written byte for
 * byte on raw TCP sockets. Every answer must be a valid 101 or a 4xx (503 while shutting down) with a
 * JSON `{"error"}` body, within a deadline, and the socket must then be closed or still usable.
 */

const DEADLINE_MS = 5000;
const WAMP_PROTOCOLS: readonly string[] = WAMP_SUBPROTOCOLS;
const GOOD_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

let server: TestHerald;
let observer: Observer;
/** How many answers had each status, printed after each property: a run that never reached 101 says so. */
const statuses = new Map<number, number>();
const tally = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
const report = (name: string) => {
  console.log(
    `# ${name} answers: ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`,
  );
  statuses.clear();
};

before(async () => {
  server = await startHerald();
  observer = await Observer.connect(server);
});

after(async () => {
  observer?.close();
  await server?.stop();
});

// ---------------------------------------------------------------------------------------------------
// Generators

const hex = fc.constantFrom(...'0123456789abcdefABCDEF');
const notHex = fc.constantFrom(...'GZz%/ -g');

/** One path segment: plain, percent-encoded (valid, broken, or not UTF-8), unicode, dots, long. */
const segment: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('app', 'app-key', 'ws', 'apps', 'app-id', '', '.', '..', '%2e%2e', '%2F', '~'),
  fc.stringMatching(/^[A-Za-z0-9_\-.=@,;:]{1,20}$/),
  fc.tuple(hex, hex).map(([a, b]) => `%${a}${b}`),
  fc.tuple(fc.oneof(hex, notHex), notHex).map(([a, b]) => `%${a}${b}`),
  fc.constantFrom('%', '%E0%A4%A', '%E0%A4', '%C0%AF', '%FF', '%00', '%ed%a0%80'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }),
  fc.integer({ min: 200, max: 9000 }).map((n) => 'x'.repeat(n)),
);

/** A request target: a route's path, maybe mutated, or generated segments; `//` authorities too. */
const path: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('/app/app-key', '/app/app-key', '/ws', '/app/unknown-key') },
  fc.constantFrom('/app/', '/app', '/', '/app/app%2Dkey', '/app/%61pp-key'),
  fc.tuple(fc.constantFrom('/app/', '/ws/', '/', '//'), segment).map(([a, b]) => a + b),
  fc.array(segment, { minLength: 1, maxLength: 6 }).map((segments) => `/${segments.join('/')}`),
  fc
    .tuple(
      fc.constantFrom('[', 'a:99999', '127.0.0.1', '[::1]', 'user@host', '%zz', ''),
      fc.constantFrom('/app/app-key', '/ws', ''),
    )
    .map(([authority, rest]) => `//${authority}${rest}`),
  fc.constantFrom(
    'http://[/app/app-key',
    'http://127.0.0.1/app/app-key',
    'https://a:99999/ws',
    '*',
    'app/app-key',
  ),
);

const queryPair: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('protocol=7', 'protocol=5', 'protocol=x', 'client=js', 'version=8.6.0', 'flash=false'),
  fc
    .tuple(fc.stringMatching(/^[a-z]{1,8}$/), fc.string({ maxLength: 20 }))
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`),
  fc.constantFrom('protocol=%ZZ', '%=%', 'a=%E0%A4', '=', '&', 'protocol', 'protocol=7&protocol=8'),
  fc.integer({ min: 1000, max: 12_000 }).map((n) => `protocol=${'7'.repeat(n)}`),
);
const query: fc.Arbitrary<string> = fc.oneof(
  fc.constant(''),
  fc.array(queryPair, { maxLength: 5 }).map((pairs) => `?${pairs.join('&')}`),
);

const protocolList: fc.Arbitrary<string | undefined> = fc.oneof(
  fc.constant(undefined),
  fc
    .subarray([...WAMP_PROTOCOLS, 'wamp.2.ubjson', 'chat', 'pusher'], { minLength: 1 })
    .map((list) => list.join(', ')),
  fc.constantFrom(
    '',
    ',',
    ' , ,wamp.2.json',
    'wamp.2.json,,',
    '"wamp.2.json"',
    'wamp.2.json wamp.2.msgpack',
    'wamp.2.json, wamp.2.json',
  ),
);

interface Handshake {
  method: string;
  /** Sec-WebSocket-Key: undefined leaves it out. */
  key: string | undefined;
  version: string | undefined;
  upgrade: string | undefined;
  connection: string;
  protocols: string | undefined;
  origin: string | undefined;
  host: boolean;
}

const handshake: fc.Arbitrary<Handshake> = fc.record({
  method: fc.constantFrom('GET', 'GET', 'GET', 'GET', 'POST', 'PUT', 'CONNECT'),
  key: fc.oneof(
    { weight: 6, arbitrary: fc.constant(GOOD_KEY) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(undefined, '', 'short', 'dGhlIHNhbXBsZSBub25jZQ', `${GOOD_KEY}==`),
    },
  ),
  version: fc.oneof(
    { weight: 6, arbitrary: fc.constant('13') },
    { weight: 1, arbitrary: fc.constantFrom(undefined, '8', '7', '', 'x', '13, 8') },
  ),
  upgrade: fc.oneof(
    { weight: 6, arbitrary: fc.constant('websocket') },
    { weight: 1, arbitrary: fc.constantFrom(undefined, 'WebSocket', 'h2c', '') },
  ),
  connection: fc.oneof(
    { weight: 6, arbitrary: fc.constant('Upgrade') },
    { weight: 1, arbitrary: fc.constantFrom('keep-alive, Upgrade', 'close', 'upgrade') },
  ),
  protocols: protocolList,
  origin: fc.constantFrom(
    undefined,
    'http://example.com',
    'null',
    '',
    'http://[',
    'http://ünïcode.example',
    `http://${'o'.repeat(300)}.x`,
  ),
  host: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
});

/** The request target, sent as UTF-8 (unicode paths reach the server as raw bytes). */
const target = fc.tuple(path, query).map(([p, q]) => p + q);

// ---------------------------------------------------------------------------------------------------
// Checks

function requestBytes(targetText: string, h: Handshake): Buffer {
  const lines = [`${h.method} ${targetText} HTTP/1.1`];
  if (h.host) lines.push('Host: 127.0.0.1');
  lines.push(`Connection: ${h.connection}`);
  if (h.upgrade !== undefined) lines.push(`Upgrade: ${h.upgrade}`);
  if (h.key !== undefined) lines.push(`Sec-WebSocket-Key: ${h.key}`);
  if (h.version !== undefined) lines.push(`Sec-WebSocket-Version: ${h.version}`);
  if (h.protocols !== undefined) lines.push(`Sec-WebSocket-Protocol: ${h.protocols}`);
  if (h.origin !== undefined) lines.push(`Origin: ${h.origin}`);
  if (h.method !== 'GET') lines.push('Content-Length: 0');
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8');
}

/** A masked WebSocket close frame with status 1000 (RFC 6455 section 5.5.1). */
const CLOSE_FRAME = Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);

function checkSwitch(response: RawResponse, h: Handshake): void {
  assert.equal(response.headers.upgrade?.toLowerCase(), 'websocket');
  const accept = createHash('sha1').update(`${h.key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  assert.equal(response.headers['sec-websocket-accept'], accept);
  const chosen = response.headers['sec-websocket-protocol'];
  if (chosen !== undefined) {
    const offered = (h.protocols ?? '').split(',').map((p) => p.trim());
    assert.ok(offered.includes(chosen), `subprotocol ${chosen} was not offered (${h.protocols})`);
  }
}

async function oneCase(targetText: string, h: Handshake): Promise<void> {
  const http = await RawHttp.connect(server.port);
  try {
    http.write(requestBytes(targetText, h));
    let response: RawResponse;
    try {
      response = await http.response(DEADLINE_MS);
    } catch (err) {
      // A refused request may be cut right after its answer: only a missing answer is a failure.
      throw new Error(`no answer to ${JSON.stringify(targetText.slice(0, 200))}: ${(err as Error).message}`);
    }
    tally(response.status);
    const what = `${response.status} for ${h.method} ${JSON.stringify(targetText.slice(0, 200))}`;
    if (response.status === 101) {
      checkSwitch(response, h);
      // Usable: the server answers our close handshake and closes.
      http.write(CLOSE_FRAME);
      await http.waitClosed(DEADLINE_MS);
      return;
    }
    assert.ok(
      (response.status >= 400 && response.status < 500) || response.status === 503,
      `unexpected ${what}: ${response.body.toString('utf8').slice(0, 300)}`,
    );
    errorOf(response);
    if (response.headers.connection?.toLowerCase() === 'close') {
      await http.waitClosed(DEADLINE_MS);
    } else {
      // Kept alive: the same socket must carry another request.
      http.write('GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      const next = await http.response(DEADLINE_MS);
      assert.equal(next.status, 200, `the socket after ${what} is not usable`);
    }
  } finally {
    http.destroy();
  }
}

test('generated upgrade requests: a valid 101 or a JSON 4xx, never a hang, and the server serves on', async () => {
  await fuzz('http upgrade', 350, [target, handshake], async (targetText, h) => {
    await oneCase(targetText, h);
    await observer.check();
  });
  // The generators must reach both sides: upgrades that succeed and refusals.
  assert.ok(statuses.has(101) && statuses.has(400), `answers: ${JSON.stringify([...statuses])}`);
  report('http upgrade');
});

test('upgrades with well-formed handshakes to every route and subprotocol list are answered 101 or 400 JSON', async () => {
  const route = fc.oneof(
    fc.constant({ path: '/app/app-key?protocol=7', wamp: false }),
    fc.constant({ path: '/ws', wamp: true }),
  );
  await fuzz('http upgrade subprotocols', 60, [route, protocolList], async (r, protocols) => {
    const h: Handshake = {
      method: 'GET',
      key: GOOD_KEY,
      version: '13',
      upgrade: 'websocket',
      connection: 'Upgrade',
      protocols,
      origin: undefined,
      host: true,
    };
    const http = await RawHttp.connect(server.port);
    try {
      http.write(requestBytes(r.path, h));
      const response = await http.response(DEADLINE_MS);
      tally(response.status);
      const offered = (protocols ?? '').split(',').map((p) => p.trim());
      const speaks = offered.some((p) => WAMP_PROTOCOLS.includes(p));
      if (r.wamp && !speaks) {
        assert.equal(response.status, 400);
        errorOf(response);
      } else if (response.status === 101) {
        checkSwitch(response, h);
        if (r.wamp) assert.ok(WAMP_PROTOCOLS.includes(response.headers['sec-websocket-protocol'] ?? ''));
      } else {
        // ws refuses a Sec-WebSocket-Protocol it cannot parse (RFC 6455 section 4.1 token lists).
        assert.equal(response.status, 400, `${response.status} ${response.body.toString()}`);
        errorOf(response);
      }
    } finally {
      http.destroy();
    }
    await observer.check();
  });
  report('http upgrade subprotocols');
});
