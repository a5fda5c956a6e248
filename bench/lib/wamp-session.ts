/**
 * A WAMP session from the bench process itself (one or a few, over `ws`): the publisher of the WAMP
 * scenarios, and the probe that tells whether the server offers a serializer at all. The many
 * subscribers, callers and callees are load clients (wamp-client.ts, in the worker processes).
 */
import WebSocket from 'ws';
import { MessageType as T } from '../../src/protocol/wamp/messages.js';
import type { ScenarioContext, ScenarioResult } from './scenarios.js';
import { JSON_CODEC, type WampCodec, wampCodec } from './wamp-wire.js';

/** A WAMP message, decoded. */
type WampMessage = unknown[];

export class WampSession {
  readonly #ws: WebSocket;
  readonly #codec: WampCodec;
  readonly #pending = new Map<number, { resolve: (m: WampMessage) => void; reject: (err: Error) => void }>();
  #nextRequest = 1;
  events = 0;

  private constructor(ws: WebSocket, codec: WampCodec) {
    this.#ws = ws;
    this.#codec = codec;
  }

  /** Joins `realm1` over `codec` as publisher and subscriber; rejects when the server refuses the upgrade. */
  static async open(host: string, port: number, codec: WampCodec = JSON_CODEC): Promise<WampSession> {
    const s = new WampSession(new WebSocket(`ws://${host}:${port}/ws`, [codec.protocol]), codec);
    await new Promise((resolve, reject) => {
      s.#ws.once('open', resolve);
      s.#ws.once('error', reject);
    });
    const welcome = new Promise<void>((resolve, reject) => {
      s.#ws.once('message', (data: WebSocket.RawData) => {
        const m = codec.decode(data as Buffer);
        if (m[0] === T.WELCOME) resolve();
        else reject(new Error(`no WELCOME: ${JSON.stringify(m)}`));
      });
    });
    s.#send([T.HELLO, 'realm1', { roles: { publisher: {}, subscriber: {} } }]);
    await welcome;
    s.#ws.on('message', (data: WebSocket.RawData) => s.#onMessage(codec.decode(data as Buffer)));
    return s;
  }

  #send(message: WampMessage): void {
    this.#ws.send(this.#codec.encode(message));
  }

  #onMessage(m: WampMessage): void {
    if (m[0] === T.EVENT) {
      this.events++;
      return;
    }
    const request = (m[0] === T.ERROR ? m[2] : m[1]) as number;
    const pending = this.#pending.get(request);
    this.#pending.delete(request);
    if (m[0] === T.ERROR) pending?.reject(new Error(`WAMP ERROR ${String(m[4])}`));
    else pending?.resolve(m);
  }

  #request(message: WampMessage): Promise<WampMessage> {
    const id = this.#nextRequest++;
    message[1] = id;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#send(message);
    });
  }

  subscribe(topic: string, match: 'exact' | 'prefix' | 'wildcard' = 'exact'): Promise<WampMessage> {
    return this.#request([T.SUBSCRIBE, 0, match === 'exact' ? {} : { match }, topic]);
  }

  /** An acknowledged publication: resolves with PUBLISHED, rejects with the ERROR. */
  publish(topic: string, args: unknown[]): Promise<WampMessage> {
    return this.#request([T.PUBLISH, 0, { acknowledge: true }, topic, args]);
  }

  close(): void {
    this.#ws.close();
  }
}

/**
 * The codec of `serializer` and a session over it, or why there is none: `cbor-x` missing, or a
 * serializer the server does not offer (it refuses the upgrade, as Herald does with HTTP 400, or picks
 * another subprotocol), which is reported as not supported by this build rather than failing the run.
 */
async function openOver(
  host: string,
  port: number,
  serializer: string,
): Promise<{ codec: WampCodec; session: WampSession } | { unsupported: string }> {
  const codec = await wampCodec(serializer);
  if (typeof codec === 'string') return { unsupported: codec };
  try {
    return { codec, session: await WampSession.open(host, port, codec) };
  } catch (err) {
    const { message } = err as Error;
    if (/Unexpected server response: 4\d\d|subprotocol/i.test(message)) {
      return { unsupported: `${codec.protocol} not supported by this build (${message})` };
    }
    throw err;
  }
}

/**
 * A session over each of `serializers` in turn, with its codec, for a scenario to run its variants
 * over; one without a session (see `openOver`) is noted in `results` and skipped. Each session is
 * closed once the scenario is done with it.
 */
export async function* eachSerializer(
  ctx: ScenarioContext,
  serializers: string[],
  results: ScenarioResult[],
): AsyncGenerator<{ serializer: string; codec: WampCodec; session: WampSession }> {
  for (const serializer of serializers) {
    const opened = await openOver(ctx.server.host, ctx.server.port, serializer);
    if ('unsupported' in opened) {
      ctx.log(`  ${opened.unsupported}`);
      results.push({ variant: `wamp.2.${serializer}`, metrics: {}, notes: [opened.unsupported] });
      continue;
    }
    try {
      yield { serializer, ...opened };
    } finally {
      opened.session.close();
    }
  }
}

/** Runs `op(0)`, `op(1)`, … with `window` in flight while `more(i)` holds. */
export async function pipelined(
  window: number,
  more: (i: number) => boolean,
  op: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (more(next)) await op(next++);
  };
  await Promise.all(Array.from({ length: window }, lane));
}
