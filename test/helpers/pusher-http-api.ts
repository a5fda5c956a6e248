import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { after, before } from 'node:test';
import { signRequest } from '../../src/protocol/pusher/auth.js';
import { APP, startHerald, type TestHerald } from './herald.js';
import { type PusherFrame, RawClient, within } from './raw-client.js';

/**
 * The HTTP API tests' servers, apps and requests: signed requests sent as the SDKs send them (and as
 * they refuse to), error answers checked for their exact shape, and raw subscribers to see what was
 * delivered.
 */

export interface Credentials {
  id: string;
  key: string;
  secret: string;
}

/** A disabled app: its HTTP requests get 403. */
export const OFF: Credentials = { id: 'off-id', key: 'off-key', secret: 'off-secret' };
/** An app only the channel-listing tests use, so other tests' channels never show up in its lists. */
export const LIST: Credentials = { id: 'list-id', key: 'list-key', secret: 'list-secret' };
/** An app whose channels are named like Object.prototype's members. */
export const PROTO: Credentials = { id: 'proto-id', key: 'proto-key', secret: 'proto-secret' };
/** The app of the worked examples in the Pusher docs, HTTP API reference, "Generating authentication signatures". */
export const DOCS: Credentials = { id: '3', key: '278d425bdf160c739803', secret: '7ad3773142a6692b25b8' };
export const DOCS_TIME = 1353088179;
export const GUARD_MS = 5000;

/** The server of APP, OFF, LIST and PROTO; set once `startApiServers`' hook has run. */
export let server: TestHerald;
/** A server of DOCS whose clock reads 1353088179 s, for the documentation's signature examples. */
export let docs: TestHerald;
const raws: RawClient[] = [];

/** Starts `server` and `docs` before the file's tests and stops them, and every subscriber, after. */
export function startApiServers(): void {
  before(async () => {
    server = await startHerald({
      apps: [{ ...APP, clientEvents: true }, { ...OFF, enabled: false }, LIST, PROTO],
    });
    docs = await startHerald({ apps: [DOCS] }, { now: () => DOCS_TIME * 1000 });
  });

  after(async () => {
    for (const c of raws) c.close();
    await Promise.all(raws.map((c) => c.closed));
    await server?.stop();
    await docs?.stop();
  });
}

export interface ApiOptions {
  /** A string is sent as-is; anything else is JSON-encoded. */
  body?: unknown;
  params?: Record<string, string>;
  credentials?: Credentials;
  timestamp?: number;
  /** Base URL; the main server by default. */
  base?: string;
}

export function bodyText(body: unknown): string {
  if (body === undefined) return '';
  return typeof body === 'string' ? body : JSON.stringify(body);
}

/** A response's whole body, as text. */
export async function textOf(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

/** The URL of a request signed as the SDKs sign it; `path` is below `/apps/{id}`. */
export function signedUrl(method: string, path: string, options: ApiOptions = {}): string {
  const credentials = options.credentials ?? APP;
  const fullPath = `/apps/${credentials.id}${path}`;
  const query = signRequest(
    method,
    fullPath,
    credentials,
    bodyText(options.body),
    options.params,
    options.timestamp,
  );
  return `${options.base ?? server.httpUrl}${fullPath}?${new URLSearchParams(query)}`;
}

/** A signed request with `fetch`, for what the `pusher` SDK refuses to send. */
export function api(method: 'GET' | 'POST', path: string, options: ApiOptions = {}): Promise<Response> {
  const text = bodyText(options.body);
  return fetch(signedUrl(method, path, options), {
    method,
    ...(text ? { body: text, headers: { 'content-type': 'application/json' } } : {}),
  });
}

/** Asserts a 200 answer of JSON and returns its body, parsed. */
export async function okJson(response: Response): Promise<unknown> {
  const text = await response.text();
  assert.equal(response.status, 200, text);
  assert.equal(response.headers.get('content-type'), 'application/json');
  return JSON.parse(text);
}

/** Asserts an error answer: `status`, and a JSON body that is exactly `{"error": <message>}`. */
export async function assertError(response: Response, status: number, message: RegExp): Promise<string> {
  const text = await response.text();
  assert.equal(response.status, status, text);
  assert.equal(response.headers.get('content-type'), 'application/json');
  const body = JSON.parse(text) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body), ['error'], text);
  assert.equal(typeof body.error, 'string');
  assert.match(body.error as string, message);
  return body.error as string;
}

/** The status and `error` of a request the `pusher` SDK made and that failed. */
export async function sdkFailure(request: Promise<unknown>): Promise<{ status: number; error: string }> {
  try {
    await request;
  } catch (err) {
    const { status, body } = err as { status?: number; body?: string };
    assert.ok(status !== undefined && body !== undefined, `not an HTTP failure: ${String(err)}`);
    const parsed = JSON.parse(body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed), ['error'], body);
    return { status, error: parsed.error as string };
  }
  return assert.fail('the request should have failed');
}

/**
 * A raw client subscribed to `channels`; private and presence channels are authorized with the SDK,
 * presence ones as `userId` (the socket id by default).
 */
export async function subscriber(
  channels: string[],
  options: { target?: TestHerald; credentials?: Credentials; userId?: string } = {},
): Promise<{ client: RawClient; socketId: string }> {
  const target = options.target ?? server;
  const credentials = options.credentials ?? APP;
  const { client, socketId } = await within(
    RawClient.connect(target.wsUrl(credentials.key)),
    GUARD_MS,
    'connection',
  );
  raws.push(client);
  const sdk = target.sdk(credentials);
  for (const channel of channels) {
    const extra = channel.startsWith('presence-')
      ? sdk.authorizeChannel(socketId, channel, { user_id: options.userId ?? socketId })
      : channel.startsWith('private-')
        ? sdk.authorizeChannel(socketId, channel)
        : {};
    const reply = await within(
      client.subscribe(channel, { ...extra }),
      GUARD_MS,
      `subscription to ${channel}`,
    );
    assert.equal(reply.event, 'pusher_internal:subscription_succeeded', JSON.stringify(reply));
  }
  return { client, socketId };
}

/** The next published (non-protocol) event the client receives on `channel`. */
export function published(client: RawClient, channel: string): Promise<PusherFrame> {
  return within(
    client.next((f) => f.channel === channel && !f.event.startsWith('pusher')),
    GUARD_MS,
    `an event on ${channel}`,
  );
}

/**
 * Unsubscribes, then re-subscribes to a channel the client already has: the server handles a
 * connection's subscription requests in order, so the (idempotent) success means the unsubscribe is done.
 */
export async function unsubscribe(
  client: RawClient,
  channel: string,
  stillSubscribed: string,
): Promise<void> {
  client.send({ event: 'pusher:unsubscribe', data: { channel } });
  const reply = await within(client.subscribe(stillSubscribed), GUARD_MS, 'resubscription');
  assert.equal(reply.event, 'pusher_internal:subscription_succeeded');
}

/** What pusher-js hands the app: the parsed value when `data` is JSON, else the string itself. */
export function parsedOrSame(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}
