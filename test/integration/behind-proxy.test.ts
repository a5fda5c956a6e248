import assert from 'node:assert/strict';
import { request } from 'node:https';
import { after, before, describe, test } from 'node:test';
import type PusherServer from 'pusher';
import { APP, connected, nextEvent, startHerald, type TestHerald } from '../helpers/herald.js';
import { clientFixture, LineProcess } from '../helpers/line-process.js';
import { Nginx, nginxSkip } from '../helpers/nginx.js';
import { assertError } from '../helpers/pusher-http-api.js';
import { RawClient, within } from '../helpers/raw-client.js';
import { opensslSkip, TestPki, tlsSdk } from '../helpers/tls.js';

/**
 * Herald behind a proxy (docs/operations.md, "Behind a proxy"): `pathPrefix` for the WebSockets and the
 * HTTP API, whose requests are signed over the path they carry, prefix included; then a real nginx in
 * front, terminating TLS, passing WebSocket upgrades on and naming the client in `X-Forwarded-For`.
 */

const GUARD_MS = 15_000;
const PREFIX = '/realtime';
const EVENT = { name: 'headline', channel: 'news', data: '{"title":"through the proxy"}' };

/**
 * `<prefix>/apps/{id}/events` with EVENT, signed by the `pusher` SDK over `signedPrefix` + the same
 * path, as a client with a path before `/apps` (pusher-http-php's `path`) signs it. The SDK has no
 * such option itself: it always sends and signs `/apps/{id}/…`.
 */
function prefixedEvent(sdk: PusherServer, prefix: string, signedPrefix = prefix) {
  const path = `/apps/${APP.id}/events`;
  const body = JSON.stringify(EVENT);
  const query = sdk.createSignedQueryString({ method: 'POST', path: signedPrefix + path, body });
  return { target: `${prefix}${path}?${query}`, body };
}

describe('pathPrefix: the WebSockets and the HTTP API under it', () => {
  let server: TestHerald;
  before(async () => {
    server = await startHerald({ pathPrefix: PREFIX });
  });
  after(() => server?.stop());

  const post = ({ target, body }: { target: string; body: string }) =>
    fetch(`${server.httpUrl}${target}`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });

  test('pusher-js with wsPath receives what is published at <prefix>/apps/… and at /apps/…', async () => {
    const client = server.client({ wsPath: PREFIX });
    await within(connected(client), GUARD_MS, 'pusher-js to connect');
    const channel = client.subscribe('news');
    await within(nextEvent(channel, 'pusher:subscription_succeeded'), GUARD_MS, 'the subscription');

    const prefixed = nextEvent(channel, 'headline');
    const response = await post(prefixedEvent(server.sdk(), PREFIX));
    const text = await response.text();
    assert.equal(response.status, 200, text);
    assert.equal(text, '{}');
    assert.deepEqual(await within(prefixed, GUARD_MS, 'the prefixed event'), { title: 'through the proxy' });

    const plain = nextEvent(channel, 'headline');
    const triggered = await server.sdk().trigger('news', 'headline', { title: 'no prefix' });
    assert.equal(triggered.status, 200);
    assert.deepEqual(await within(plain, GUARD_MS, 'the event of the SDK'), { title: 'no prefix' });
  });

  test('signed over another path, or with the prefix but sent without it: 401, nothing published', async () => {
    const client = server.client({ wsPath: PREFIX });
    const channel = client.subscribe('news');
    await within(nextEvent(channel, 'pusher:subscription_succeeded'), GUARD_MS, 'the subscription');
    const received = nextEvent(channel, 'headline');

    const sdk = server.sdk();
    const withPrefix = await assertError(
      await post(prefixedEvent(sdk, PREFIX, '/other')),
      401,
      /^Invalid signature/,
    );
    // The message names the string Herald expected to be signed: the path with the prefix.
    assert.ok(withPrefix.includes(JSON.stringify(`POST\n${PREFIX}/apps/${APP.id}/events\n`).slice(0, -1)));
    await assertError(await post(prefixedEvent(sdk, '', PREFIX)), 401, /^Invalid signature/);

    // Events of one publisher arrive in order: the first to arrive is this one, not a refused one.
    await sdk.trigger('news', 'headline', { title: 'after the refusals' });
    assert.deepEqual(await within(received, GUARD_MS, 'the event'), { title: 'after the refusals' });
  });

  test('sent under the prefix and signed without it, as pusher-http-php signs: published', async () => {
    const client = server.client({ wsPath: PREFIX });
    const channel = client.subscribe('news');
    await within(nextEvent(channel, 'pusher:subscription_succeeded'), GUARD_MS, 'the subscription');
    const received = nextEvent(channel, 'headline');
    const response = await post(prefixedEvent(server.sdk(), PREFIX, ''));
    assert.equal(response.status, 200, await response.text());
    assert.deepEqual(await within(received, GUARD_MS, 'the event'), { title: 'through the proxy' });
  });

  test('/health, /ready and /metrics stay where they are, not under the prefix', async () => {
    for (const path of ['/health', '/ready', '/metrics']) {
      const response = await fetch(`${server.httpUrl}${path}`);
      await response.arrayBuffer();
      assert.equal(response.status, 200, path);
      await assertError(await fetch(`${server.httpUrl}${PREFIX}${path}`), 404, /^Not found: \/realtime\//);
    }
  });
});

/** `method url` over HTTPS trusting `ca`: the status and the body. */
function https(
  method: string,
  url: string,
  ca: string,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'content-type': 'application/json' };
    const req = request(url, { method, ca, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.once('error', reject);
    req.end(body);
  });
}

describe('behind nginx: TLS, WebSocket upgrades, X-Forwarded-For', { skip: opensslSkip || nginxSkip }, () => {
  let pki: TestPki;
  let server: TestHerald;
  let nginx: Nginx | undefined;
  const children: LineProcess[] = [];
  const raws: RawClient[] = [];
  const ca = () => pki.root.certPem;
  const base = () => `https://127.0.0.1:${nginx!.port}`;

  before(async () => {
    pki = await TestPki.create();
    const certificate = await pki.issue('proxy');
    server = await startHerald({
      pathPrefix: PREFIX,
      trustedProxies: ['127.0.0.1'],
      maxConnectionsPerAddress: 1,
    });
    const { activityTimeoutSeconds, pongTimeoutSeconds } = server.herald.config;
    nginx = await Nginx.start({
      upstreamPort: server.port,
      cert: certificate.cert,
      key: certificate.key,
      pathPrefix: PREFIX,
      // Herald pings a client silent for the activity timeout and waits for the pong: the proxy must
      // wait longer than both before it gives up on a quiet connection.
      timeoutSeconds: activityTimeoutSeconds + pongTimeoutSeconds + 30,
    });
  });
  after(async () => {
    for (const raw of raws) raw.close();
    await Promise.all(children.map((child) => child.stop()));
    await nginx?.stop();
    await server?.stop();
    await pki?.remove();
  });

  test('pusher-js (forceTLS, wsPath) receives what the pusher SDK publishes through nginx, with and without the prefix, and as pusher-http-php signs', async () => {
    const subscriber = new LineProcess(
      [clientFixture('pusher-js'), APP.key, '127.0.0.1', String(nginx!.port), 'news'],
      { NODE_EXTRA_CA_CERTS: pki.root.cert, PUSHER_WS_PATH: PREFIX },
    );
    children.push(subscriber);
    await within(subscriber.next('subscribed'), GUARD_MS, `pusher-js to subscribe at ${base()}${PREFIX}`);

    const sdk = tlsSdk(nginx!.port, ca());
    const triggered = await sdk.trigger('news', 'headline', { title: 'through nginx' });
    assert.equal(triggered.status, 200);
    assert.deepEqual(await within(subscriber.next('event'), GUARD_MS, 'the event of the SDK'), {
      kind: 'event',
      channel: 'news',
      event: 'headline',
      data: { title: 'through nginx' },
    });

    const { target, body } = prefixedEvent(sdk, PREFIX);
    assert.deepEqual(await https('POST', `${base()}${target}`, ca(), body), { status: 200, body: '{}' });
    assert.deepEqual(await within(subscriber.next('event'), GUARD_MS, 'the prefixed event'), {
      kind: 'event',
      channel: 'news',
      event: 'headline',
      data: { title: 'through the proxy' },
    });

    // As pusher-http-php sends it under its `path` option: the prefix in the URL, not in the signature.
    const phpStyle = prefixedEvent(sdk, PREFIX, '');
    assert.deepEqual(await https('POST', `${base()}${phpStyle.target}`, ca(), body), {
      status: 200,
      body: '{}',
    });
    assert.deepEqual(
      await within(subscriber.next('event'), GUARD_MS, 'the event signed without the prefix'),
      {
        kind: 'event',
        channel: 'news',
        event: 'headline',
        data: { title: 'through the proxy' },
      },
    );

    const elsewhere = prefixedEvent(sdk, PREFIX, '/other');
    const refused = await https('POST', `${base()}${elsewhere.target}`, ca(), body);
    assert.equal(refused.status, 401, refused.body);
    assert.match(refused.body, /Invalid signature/);
    await subscriber.stop();
  });

  test('with trustedProxies, the limits per address count the client nginx names, not nginx', async () => {
    const url = `wss://127.0.0.1:${nginx!.port}${PREFIX}/app/${APP.key}?protocol=7&client=js&version=8.6.0`;
    const from = (address: string) => ({ ca: ca(), headers: { 'X-Forwarded-For': address } });
    // Every socket reaches Herald from 127.0.0.1; with maxConnectionsPerAddress 1, two of them are
    // let in only because each names another client.
    for (const address of ['198.51.100.1', '198.51.100.2']) {
      const { client } = await within(
        RawClient.connect(url, from(address)),
        GUARD_MS,
        `a client at ${address}`,
      );
      raws.push(client);
    }
    await assert.rejects(RawClient.open(url, from('198.51.100.1')), /HTTP 429/);
  });
});
