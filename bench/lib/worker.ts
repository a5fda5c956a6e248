/**
 * A load-client process: many raw TCP sockets speaking just enough WebSocket (RFC 6455) and Pusher
 * protocol to subscribe, receive, send client events and churn presence, or WAMP (wamp-client.ts) to
 * subscribe, call and be called. Driven over IPC by the `WorkerPool` (pool.ts): each message names a
 * handler below and carries its arguments.
 *
 * Cheap on purpose so that clients are not the bottleneck: no WebSocket library, one clock read per
 * TCP chunk, and bench messages are recognised by their `data` prefix (`<seq>|<publish µs>|…`) without
 * parsing JSON. Frames to the server are masked with a zero key (valid framing, unmasking is a no-op).
 */
import { createHmac } from 'node:crypto';
import net from 'node:net';
import { signRequest } from '../../src/protocol/pusher/auth.js';
import { type App, Publisher, RawHttpClient } from './publisher.js';
import { type Dialed, Redial, type RedialRecord } from './redial.js';
import { bucketOf, type Histogram, newHistogram, nowUs } from './stats.js';
import { WampClient, type WampOptions } from './wamp-client.js';
import { wampCodec } from './wamp-wire.js';

const DATA_MARK = Buffer.from('"data":"');
const PIPE = 0x7c;
const CONNECT_TIMEOUT_MS = 15_000;
/** pusher-js gives a subscription no timeout; the storm scenario's own limit ends the wait first. */
const RESUBSCRIBE_TIMEOUT_MS = 600_000;

/** A Pusher message from the server, parsed. */
interface PusherMessage {
  event: string;
  channel?: string;
  data?: unknown;
}

/** What one connection is and does. */
export interface ConnOptions {
  host: string;
  port: number;
  /** The request target of the WebSocket handshake. */
  path: string;
  key: string;
  secret: string;
  localAddress?: string | undefined;
  /** Subscribed once connected (churners join later); with `channelSpread`, `<channel>-<index % spread>`. */
  channel?: string;
  channelSpread?: number;
  /** `caller` and `callee` are WAMP roles; a WAMP subscriber is a `sub`. */
  role?: 'sub' | 'observer' | 'churner' | 'caller' | 'callee';
  slow?: boolean;
  userPrefix?: string;
  /** A WAMP session instead of a Pusher connection (`path` is the router's). */
  wamp?: WampOptions;
}

/** `count` connections numbered from `firstIndex`, `concurrency` opening at a time. */
export interface ConnectOptions extends Omit<ConnOptions, 'localAddress'> {
  count: number;
  firstIndex: number;
  concurrency?: number;
  /** Source addresses, taken in turn by connection index. */
  localAddresses?: string[];
  /**
   * Apps taken in turn by connection index, instead of `key` and `secret`: each connection opens
   * `/app/<its app's key>` with the query of `path`, and signs with its app's secret.
   */
  apps?: { key: string; secret: string }[];
}

/** What the connection numbered `index` is: its source address, and its app when there are several. */
function connOptions(m: ConnectOptions, index: number): ConnOptions {
  const addresses = m.localAddresses ?? [];
  const localAddress = addresses.length > 0 ? addresses[index % addresses.length] : undefined;
  const app = m.apps?.length ? m.apps[index % m.apps.length] : undefined;
  if (!app) return { ...m, localAddress };
  const query = m.path.includes('?') ? m.path.slice(m.path.indexOf('?')) : '';
  return {
    ...m,
    localAddress,
    key: app.key,
    secret: app.secret,
    path: `/app/${encodeURIComponent(app.key)}${query}`,
  };
}

interface WorkerState {
  conns: Conn[];
  /** Bench messages received by reading subscribers since the last `reset`. */
  received: number;
  hist: Histogram;
  /** Bench messages received by reading subscribers since the last `resetCounts`. */
  epochReceived: number;
  seqCheck: boolean;
  errors: Map<string, number>;
  progressTimer: NodeJS.Timeout | undefined;
  keepaliveTimer: NodeJS.Timeout | undefined;
  /** Client events each sender may have sent so far, at max rate. */
  ceUpTo: number;
  /** Why redialling connections closed and their attempts failed (see `Redial`), since `storm`. */
  outcomes: Map<string, number>;
}

const state: WorkerState = {
  conns: [],
  received: 0,
  hist: newHistogram(),
  epochReceived: 0,
  seqCheck: true,
  errors: new Map(),
  progressTimer: undefined,
  keepaliveTimer: undefined,
  ceUpTo: 0,
  outcomes: new Map(),
};

function countError(what: string): void {
  state.errors.set(what, (state.errors.get(what) ?? 0) + 1);
}

/** A client-to-server frame (text unless `opcode` says otherwise), masked with a zero key. */
function clientFrame(data: string | Uint8Array, opcode = 0x1): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data) : data;
  const len = payload.length;
  const hdr = len < 126 ? 6 : len < 65_536 ? 8 : 14;
  const buf = Buffer.allocUnsafe(hdr + len);
  buf[0] = 0x80 | opcode;
  if (len < 126) {
    buf[1] = 0x80 | len;
  } else if (len < 65_536) {
    buf[1] = 0x80 | 126;
    buf.writeUInt16BE(len, 2);
  } else {
    buf[1] = 0x80 | 127;
    buf.writeUInt32BE(0, 2);
    buf.writeUInt32BE(len, 6);
  }
  buf.writeUInt32BE(0, hdr - 4);
  buf.set(payload, hdr);
  return buf;
}

function sign(secret: string, text: string): string {
  return createHmac('sha256', secret).update(text).digest('hex');
}

/** Parses decimal digits from `buf[i]` up to the next `|`; returns [value, index after the pipe] or null. */
function digits(buf: Buffer, i: number, end: number): [number, number] | null {
  let v = 0;
  let p = i;
  while (p < end) {
    const c = buf[p]!;
    if (c === PIPE) return p > i ? [v, p + 1] : null;
    if (c < 48 || c > 57) return null;
    v = v * 10 + (c - 48);
    p++;
  }
  return null;
}

/** A wait for a message from the server. */
interface Pending {
  match: (m: PusherMessage) => boolean;
  resolve: (m: PusherMessage) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** What an observer saw of one member. */
interface MemberSeen {
  added: number;
  removed: number;
  present: boolean;
}

class Conn {
  readonly role: NonNullable<ConnOptions['role']>;
  /** A slow subscriber stops reading once subscribed (and until `resumeSlow`). */
  readonly slow: boolean;
  socket: net.Socket | undefined = undefined;
  head = '';
  upgraded = false;
  rem: Buffer | null = null;
  socketId = '';
  closed = false;
  closeCode = 0;
  /** `pusher:connection_established` has come on the current socket. */
  established = false;
  /** Ends the attempt `dial` has under way. */
  dialed: ((d: Dialed) => void) | undefined = undefined;
  /** Set by `storm`: the connection comes back as pusher-js does once it is dropped. */
  redial: Redial | undefined = undefined;
  count = 0;
  /** The sequence number of the last bench event received. */
  lastSeq = 0;
  next = 1;
  gaps = 0;
  reorders = 0;
  pending: Pending | undefined = undefined;
  readonly userId: string;
  /** Observers of a presence channel: user id → what was seen. */
  readonly members = new Map<string, MemberSeen>();
  violations = 0;
  joins = 0;
  /** The WAMP session on this connection, when it is one (see `connect`). */
  wamp: WampClient | undefined = undefined;

  constructor(
    readonly o: ConnOptions,
    readonly index: number,
  ) {
    this.role = o.role ?? 'sub';
    this.slow = o.slow === true;
    this.userId = `${o.userPrefix ?? 'u'}-${index}`;
  }

  /** Opens, finishes the handshake, and subscribes when a channel is given. */
  async start(): Promise<void> {
    const dialed = await this.dial(CONNECT_TIMEOUT_MS);
    if (!dialed.ok) throw new Error(dialed.reason);
    await this.wamp?.join();
    const channel = this.channelName();
    if (channel) await this.subscribe(channel);
    if (this.slow) this.socket!.pause();
  }

  /** The channel this connection subscribes to once connected, if any (churners join later). */
  channelName(): string | undefined {
    const { channel, channelSpread } = this.o;
    if (!channel || this.role === 'churner') return undefined;
    return channelSpread !== undefined && channelSpread > 1
      ? `${channel}-${this.index % channelSpread}`
      : channel;
  }

  /**
   * One attempt to connect, on a new socket: TCP, the WebSocket upgrade and the server's first Pusher
   * message, within `timeoutMs`. Resolves with how it ended (see `Dialed`), never rejects; the socket
   * of an attempt that failed is destroyed.
   */
  dial(timeoutMs: number): Promise<Dialed> {
    const { host, port, path, localAddress } = this.o;
    this.head = '';
    this.upgraded = false;
    this.rem = null;
    this.socketId = '';
    this.closed = false;
    this.closeCode = 0;
    this.established = false;
    return new Promise((resolve) => {
      const socket = net.connect({ host, port, localAddress, noDelay: true });
      let error: string | undefined;
      const timer = setTimeout(
        () => this.dialed?.({ ok: false, opened: this.upgraded, reason: 'timeout' }),
        timeoutMs,
      );
      this.dialed = (d) => {
        this.dialed = undefined;
        clearTimeout(timer);
        if (!d.ok) socket.destroy();
        resolve(d);
      };
      this.socket = socket;
      const protocol = this.wamp ? `Sec-WebSocket-Protocol: ${this.wamp.codec.protocol}\r\n` : '';
      socket.once('connect', () => {
        socket.write(
          `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${protocol}\r\n`,
        );
      });
      socket.on('error', (err: NodeJS.ErrnoException) => {
        if (this.dialed) error ??= err.code ?? err.message;
        else if (!this.redial) countError(`socket ${err.code ?? err.message}`);
      });
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.on('close', () => {
        // A socket given up on (an attempt past its timeout) may close after the next one opened.
        if (socket === this.socket) this.onClose(error);
      });
    });
  }

  /** Subscribes again to the connection's channel (see `Redial`), waiting as long as pusher-js does. */
  resubscribe(): Promise<void> {
    return this.subscribe(this.channelName()!, RESUBSCRIBE_TIMEOUT_MS);
  }

  /** Sends `pusher:subscribe` (signing private and presence channels) and waits for the answer. */
  async subscribe(channel: string, timeoutMs = CONNECT_TIMEOUT_MS): Promise<void> {
    const data: { channel: string; channel_data?: string; auth?: string } = { channel };
    if (channel.startsWith('private-') || channel.startsWith('presence-')) {
      let signed = `${this.socketId}:${channel}`;
      if (channel.startsWith('presence-')) {
        data.channel_data = JSON.stringify({ user_id: this.userId, user_info: { n: this.index } });
        signed += `:${data.channel_data}`;
      }
      data.auth = `${this.o.key}:${sign(this.o.secret, signed)}`;
    }
    const answer = this.wait(
      (m) =>
        m.channel === channel &&
        (m.event === 'pusher_internal:subscription_succeeded' || m.event === 'pusher:subscription_error'),
      timeoutMs,
    );
    this.send(JSON.stringify({ event: 'pusher:subscribe', data }));
    const m = await answer;
    if (m.event === 'pusher:subscription_error')
      throw new Error(`subscription_error ${JSON.stringify(m.data)}`);
  }

  wait(match: (m: PusherMessage) => boolean, timeoutMs = CONNECT_TIMEOUT_MS): Promise<PusherMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        reject(new Error('timeout'));
      }, timeoutMs);
      this.pending = { match, resolve, reject, timer };
    });
  }

  send(data: string | Uint8Array, opcode = 0x1): void {
    if (!this.closed && this.socket) this.socket.write(clientFrame(data, opcode));
  }

  onData(chunk: Buffer): void {
    let buf = chunk;
    if (!this.upgraded) {
      this.head += chunk.toString('latin1');
      const end = this.head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = this.head.slice(0, this.head.indexOf('\r\n'));
      if (!/^HTTP\/1\.1 101/.test(status)) {
        this.dialed?.({ ok: false, opened: false, reason: status });
        return;
      }
      this.upgraded = true;
      this.wamp?.opened();
      buf = Buffer.from(this.head.slice(end + 4), 'latin1');
      this.head = '';
      if (buf.length === 0) return;
    }
    if (this.rem !== null) {
      buf = Buffer.concat([this.rem, buf]);
      this.rem = null;
    }
    const now = nowUs();
    const len = buf.length;
    let off = 0;
    while (len - off >= 2) {
      let plen = buf[off + 1]! & 0x7f;
      let hdr = 2;
      if (plen === 126) {
        if (len - off < 4) break;
        plen = buf.readUInt16BE(off + 2);
        hdr = 4;
      } else if (plen === 127) {
        if (len - off < 10) break;
        plen = buf.readUInt32BE(off + 2) * 2 ** 32 + buf.readUInt32BE(off + 6);
        hdr = 10;
      }
      const end = off + hdr + plen;
      if (end > len) break;
      this.frame(buf[off]! & 0x0f, buf, off + hdr, end, now);
      off = end;
    }
    if (off < len) this.rem = Buffer.from(buf.subarray(off));
  }

  frame(opcode: number, buf: Buffer, start: number, end: number, now: number): void {
    if (this.wamp && (opcode === 0x1 || opcode === 0x2)) return this.wamp.message(buf, start, end, now);
    if (opcode === 0x1) {
      const d = buf.indexOf(DATA_MARK, start);
      if (d !== -1 && d < end && this.benchAt(buf, d + DATA_MARK.length, end, now)) return;
      let m: PusherMessage;
      try {
        m = JSON.parse(buf.toString('utf8', start, end)) as PusherMessage;
      } catch {
        return countError('unparseable frame');
      }
      return this.control(m);
    }
    if (opcode === 0x8) {
      this.closeCode = end - start >= 2 ? buf.readUInt16BE(start) : 1005;
      if (this.socket!.writable) this.socket!.end(clientFrame('', 0x8));
      return;
    }
    if (opcode === 0x9) {
      if (this.socket!.writable) this.socket!.write(clientFrame(buf.toString('latin1', start, end), 0xa));
    }
  }

  /** Counts the bench message whose `<seq>|<µs>|` starts at `at`; false when there is none. */
  benchAt(buf: Buffer, at: number, end: number, now: number): boolean {
    const seq = digits(buf, at, end);
    if (seq === null) return false;
    const t = digits(buf, seq[1], end);
    if (t === null) return false;
    this.bench(seq[0], t[0], now);
    return true;
  }

  bench(seq: number, t: number, now: number): void {
    if (this.slow) {
      this.count++;
      return;
    }
    this.count++;
    this.lastSeq = seq;
    this.redial?.received(seq, t, now);
    state.epochReceived++;
    if (state.seqCheck) {
      if (seq === this.next) {
        this.next++;
      } else if (seq > this.next) {
        this.gaps += seq - this.next;
        this.next = seq + 1;
      } else {
        this.reorders++;
      }
    }
    state.received++;
    state.hist[bucketOf(now - t)]!++;
  }

  control(m: PusherMessage): void {
    switch (m.event) {
      case 'pusher:connection_established':
        this.socketId = (JSON.parse(m.data as string) as { socket_id: string }).socket_id;
        this.established = true;
        this.dialed?.({ ok: true });
        break;
      case 'pusher:ping':
        this.send('{"event":"pusher:pong","data":{}}');
        break;
      case 'pusher_internal:member_added':
      case 'pusher_internal:member_removed':
        if (this.role === 'observer') this.member(m);
        break;
      case 'pusher:error': {
        const data = (typeof m.data === 'string' ? JSON.parse(m.data) : (m.data ?? {})) as {
          code?: number;
          message?: string;
        };
        // A redialling connection's errors are its outcomes (see `Redial`), counted there.
        if (!this.redial)
          countError(`pusher:error ${data.code ?? ''} ${String(data.message ?? '').slice(0, 80)}`);
        // The answer to the handshake: pusher-js acts on its code at once (connection/handshake/index.ts).
        if (!this.established && typeof data.code === 'number') {
          this.dialed?.({ ok: false, opened: true, code: data.code, reason: `pusher:error ${data.code}` });
        }
        break;
      }
      default:
        break;
    }
    const p = this.pending;
    if (p?.match(m)) {
      this.pending = undefined;
      clearTimeout(p.timer);
      p.resolve(m);
    }
  }

  member(m: PusherMessage): void {
    const data = (typeof m.data === 'string' ? JSON.parse(m.data) : m.data) as { user_id: unknown };
    const userId = String(data.user_id);
    if (!userId.startsWith('churn-')) return;
    let seen = this.members.get(userId);
    if (!seen) {
      seen = { added: 0, removed: 0, present: false };
      this.members.set(userId, seen);
    }
    if (m.event === 'pusher_internal:member_added') {
      if (seen.present) this.violations++;
      seen.present = true;
      seen.added++;
    } else {
      if (!seen.present) this.violations++;
      seen.present = false;
      seen.removed++;
    }
  }

  fail(err: Error): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    p.reject(err);
  }

  /** The current socket closed; `error` is what it failed with, if it did. */
  onClose(error?: string): void {
    this.closed = true;
    if (this.closeCode === 0) this.closeCode = 1006;
    if (this.dialed) {
      const { upgraded, closeCode } = this;
      // Before the upgrade answer the WebSocket never opened; after it, the close answers the handshake.
      if (!upgraded) this.dialed({ ok: false, opened: false, reason: error ?? 'closed before the upgrade' });
      else this.dialed({ ok: false, opened: true, code: closeCode, reason: `closed ${closeCode}` });
      return;
    }
    this.fail(new Error(`closed ${this.closeCode}`));
    this.wamp?.closed(this.closeCode);
    if (this.established) this.redial?.closed(this.closeCode);
  }
}

async function connect(m: ConnectOptions): Promise<{
  ok: number;
  failed: number;
  failures: Record<string, number>;
  ms: number;
}> {
  const started = performance.now();
  let ok = 0;
  const failures = new Map<string, number>();
  let next = 0;
  const codec = m.wamp ? await wampCodec(m.wamp.serializer) : undefined;
  if (typeof codec === 'string') throw new Error(codec);
  const one = async () => {
    while (next < m.count) {
      const i = next++;
      const index = m.firstIndex + i;
      const conn = new Conn(connOptions(m, index), index);
      if (m.wamp && codec) conn.wamp = new WampClient(conn, codec, m.wamp, countError);
      try {
        await conn.start();
        state.conns.push(conn);
        ok++;
      } catch (err) {
        const { message } = err as Error;
        failures.set(message, (failures.get(message) ?? 0) + 1);
        conn.socket?.destroy();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(m.concurrency ?? 100, m.count) }, one));
  return {
    ok,
    failed: m.count - ok,
    failures: Object.fromEntries(failures),
    ms: performance.now() - started,
  };
}

function stats() {
  const closeCodes: Record<number, number> = {};
  let open = 0;
  let slowClosed = 0;
  let slowOpen = 0;
  let fastClosed = 0;
  for (const c of state.conns) {
    if (c.closed) {
      closeCodes[c.closeCode] = (closeCodes[c.closeCode] ?? 0) + 1;
      if (c.slow) slowClosed++;
      else fastClosed++;
    } else {
      open++;
      if (c.slow) slowOpen++;
    }
  }
  return {
    received: state.received,
    hist: state.hist,
    conns: state.conns.length,
    open,
    closeCodes,
    slowClosed,
    slowOpen,
    fastClosed,
    errors: Object.fromEntries(state.errors),
  };
}

/**
 * Did every reading subscriber get `expected` bench messages in this epoch? `incomplete` counts those
 * that got fewer, `extra` those that got more (stragglers of an earlier phase).
 */
function check(m: { expected: number }) {
  let incomplete = 0;
  let extra = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  let gaps = 0;
  let reorders = 0;
  let n = 0;
  for (const c of state.conns) {
    if (c.slow || c.role !== 'sub') continue;
    n++;
    if (c.count < m.expected) incomplete++;
    else if (c.count > m.expected) extra++;
    min = Math.min(min, c.count);
    max = Math.max(max, c.count);
    gaps += c.gaps;
    reorders += c.reorders;
  }
  return { conns: n, incomplete, extra, min: n ? min : 0, max, gaps, reorders };
}

function resetCounts(m: { seqCheck?: boolean }) {
  state.seqCheck = m.seqCheck ?? true;
  state.epochReceived = 0;
  for (const c of state.conns) {
    c.count = 0;
    c.next = 1;
    c.gaps = 0;
    c.reorders = 0;
  }
  return {};
}

function reset() {
  state.received = 0;
  state.hist = newHistogram();
  state.errors.clear();
  return {};
}

function progress(m: { everyMs: number }) {
  clearInterval(state.progressTimer);
  state.progressTimer = undefined;
  if (m.everyMs > 0) {
    state.progressTimer = setInterval(
      () => process.send!({ type: 'progress', received: state.epochReceived }),
      m.everyMs,
    );
  }
  return {};
}

/** Sends `pusher:ping` from every connection once per `everyMs`, spread over ten ticks. */
function keepalive(m: { everyMs: number }) {
  clearInterval(state.keepaliveTimer);
  state.keepaliveTimer = undefined;
  if (!(m.everyMs > 0)) return {};
  let tick = 0;
  state.keepaliveTimer = setInterval(() => {
    const slot = tick++ % 10;
    for (let i = slot; i < state.conns.length; i += 10) {
      const c = state.conns[i]!;
      if (!c.slow) c.send('{"event":"pusher:ping","data":{}}');
    }
  }, m.everyMs / 10);
  return {};
}

/**
 * `senders` connections each send `rate` client events per second for `durationMs`; with `rate` 0, as
 * many as the credit allows (`upTo` events per sender, raised by `ceAllow`).
 */
async function clientEvents(m: {
  senders: number;
  rate: number;
  upTo?: number;
  durationMs: number;
  channel: string;
  event: string;
  bytes?: number;
}) {
  const senders = state.conns.filter((c) => !c.closed && c.role === 'sub').slice(0, m.senders);
  const pad = 'x'.repeat(Math.max(0, m.bytes ?? 0));
  const seqs = senders.map(() => 0);
  const started = performance.now();
  state.ceUpTo = m.upTo ?? 0;
  let sent = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(
      () => {
        const elapsed = performance.now() - started;
        const due =
          m.rate > 0
            ? Math.floor((Math.min(elapsed, m.durationMs) * m.rate) / 1000)
            : elapsed < m.durationMs
              ? state.ceUpTo
              : 0;
        senders.forEach((c, i) => {
          while (seqs[i]! < due) {
            seqs[i]!++;
            c.send(
              `{"event":"${m.event}","channel":"${m.channel}","data":"${seqs[i]}|${nowUs()}|${c.index}|${pad}"}`,
            );
            sent++;
          }
        });
        if (elapsed >= m.durationMs) {
          clearInterval(timer);
          resolve();
        }
      },
      m.rate > 0 ? 5 : 1,
    );
  });
  return { sent, senders: senders.length };
}

/** Raises the max-rate client-event credit (events per sender). */
function ceAllow(m: { upTo: number }) {
  state.ceUpTo = Math.max(state.ceUpTo, m.upTo);
  return {};
}

/** Churners join and leave `channel` in a loop for `durationMs` (join confirmed, leave right after). */
async function churn(m: { durationMs: number; channel: string }) {
  const churners = state.conns.filter((c) => c.role === 'churner' && !c.closed);
  const deadline = performance.now() + m.durationMs;
  const failures = new Map<string, number>();
  await Promise.all(
    churners.map(async (c) => {
      while (performance.now() < deadline && !c.closed) {
        try {
          await c.subscribe(m.channel);
          c.joins++;
          c.send(JSON.stringify({ event: 'pusher:unsubscribe', data: { channel: m.channel } }));
        } catch (err) {
          const { message } = err as Error;
          failures.set(message, (failures.get(message) ?? 0) + 1);
          break;
        }
      }
    }),
  );
  const joins: Record<string, number> = {};
  for (const c of churners) joins[c.userId] = c.joins;
  return { joins, failures: Object.fromEntries(failures) };
}

/** Do this worker's observers agree with the churners' joins (one added and one removed each)? */
function presenceCheck(m: { joins: Record<string, number> }) {
  let observers = 0;
  let wrong = 0;
  let violations = 0;
  let added = 0;
  let removed = 0;
  const examples: { userId: string; joins: number; added: number; removed: number }[] = [];
  for (const c of state.conns) {
    if (c.role !== 'observer') continue;
    observers++;
    violations += c.violations;
    let ok = c.violations === 0;
    for (const [userId, joins] of Object.entries(m.joins)) {
      const seen = c.members.get(userId) ?? { added: 0, removed: 0, present: false };
      added += seen.added;
      removed += seen.removed;
      if (seen.added !== joins || seen.removed !== joins) {
        ok = false;
        if (examples.length < 3) examples.push({ userId, joins, added: seen.added, removed: seen.removed });
      }
    }
    if (!ok) wrong++;
  }
  return { observers, wrong, violations, added, removed, examples };
}

function resetPresence() {
  for (const c of state.conns) {
    c.members.clear();
    c.violations = 0;
    c.joins = 0;
  }
  return {};
}

function resumeSlow() {
  for (const c of state.conns) if (c.slow && !c.closed) c.socket!.resume();
  return {};
}

/** What `httpLoad` is asked to do; requests started after `warmupMs` and within `durationMs` count. */
export interface HttpLoadOptions {
  host: string;
  port: number;
  app: App;
  /** With the `sdk` publisher, apps taken in turn instead of `app`, each request signed with its app's secret. */
  apps?: App[];
  publisher: 'sdk' | 'raw';
  clients: number;
  channel: string;
  warmupMs: number;
  durationMs: number;
  bytes?: number;
}

/** Counts one answer: its status, when its request started and when it was answered (ms). */
type Recorder = (status: number, t0: number, now: number) => void;

/**
 * HTTP API load: `clients` keep-alive clients, each sending `POST /events` one after the other, as
 * `publisher` says: `sdk` signs every request and sends it with `http.request` over a keep-alive agent,
 * as the `pusher` SDK does; `raw` signs one request at the start (its timestamp stays valid for the
 * run; the server still checks every signature) and sends the same bytes over raw sockets, so that
 * the server alone sets the pace.
 */
async function httpLoad(m: HttpLoadOptions) {
  const hist = newHistogram();
  const statuses: Record<number, number> = {};
  let requests = 0;
  /** Events published (200), warm-up and stragglers included: what subscribers should get. */
  let published = 0;
  const started = performance.now();
  const measureFrom = started + m.warmupMs;
  const end = measureFrom + m.durationMs;
  const event = { name: 'b', channel: m.channel, data: `1|${nowUs()}|${'x'.repeat(m.bytes ?? 0)}` };
  const record: Recorder = (status, t0, now) => {
    if (status === 200) published++;
    if (t0 < measureFrom || t0 >= end) return;
    requests++;
    statuses[status] = (statuses[status] ?? 0) + 1;
    hist[bucketOf((now - t0) * 1000)]!++;
  };
  if (m.publisher === 'raw') await rawHttpLoad(m, event, end, record);
  else {
    const publisher = new Publisher({
      host: m.host,
      port: m.port,
      app: m.app,
      signRequest,
      maxSockets: m.clients,
    });
    const apps = m.apps?.length ? m.apps : [m.app];
    let turn = 0;
    const client = async () => {
      while (performance.now() < end) {
        const app = apps[turn++ % apps.length];
        const t0 = performance.now();
        const res = await publisher.post('events', event, app);
        record(res.status, t0, performance.now());
      }
    };
    await Promise.all(Array.from({ length: m.clients }, client));
    publisher.close();
  }
  return { requests, published, statuses, hist, ms: m.durationMs };
}

async function rawHttpLoad(
  m: HttpLoadOptions,
  event: { name: string; channel: string; data: string },
  end: number,
  record: Recorder,
): Promise<void> {
  const body = JSON.stringify(event);
  const path = `/apps/${m.app.id}/events`;
  const query = new URLSearchParams(signRequest('POST', path, m.app, body)).toString();
  const request = Buffer.from(
    `POST ${path}?${query} HTTP/1.1\r\nHost: ${m.host}:${m.port}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  const clients: RawHttpClient[] = Array.from(
    { length: m.clients },
    () =>
      new RawHttpClient({
        host: m.host,
        port: m.port,
        request,
        onResponse: (status, t0) => {
          const now = performance.now();
          if (now >= end) for (const c of clients) c.stop();
          record(status, t0, now);
        },
      }),
  );
  await Promise.all(clients.map((c) => c.start()));
}

/**
 * The reconnect storm: every subscriber will come back as pusher-js does once dropped (see redial.ts);
 * with `cut`, every one is dropped at once by a TCP reset, as a cut network or a failed-over load
 * balancer drops them (the server sees resets, the clients an abnormal close, 1006).
 */
function storm(m: { cut: boolean }) {
  state.outcomes = new Map();
  const subs = state.conns.filter((c) => c.role === 'sub' && !c.slow);
  for (const c of subs) {
    c.redial?.stop();
    c.redial = new Redial(c, state.outcomes, nowUs);
  }
  if (m.cut) for (const c of subs) c.socket!.resetAndDestroy();
  return { armed: subs.length };
}

/** How far the storm's clients have come: dropped, subscribed again, receiving again, given up. */
function stormProgress() {
  let dropped = 0;
  let subscribed = 0;
  let receiving = 0;
  let gaveUp = 0;
  for (const c of state.conns) {
    const r = c.redial?.record;
    if (!r) continue;
    if (r.drops > 0) dropped++;
    if (r.drops > 0 && r.subscribedAt > 0) subscribed++;
    if (r.drops > 0 && r.receivingAt > 0) receiving++;
    if (r.gaveUp) gaveUp++;
  }
  return { dropped, subscribed, receiving, gaveUp };
}

/** Every storm client's record, and why connections closed and attempts failed. */
function stormReport(): { records: RedialRecord[]; outcomes: Record<string, number> } {
  const records = state.conns.flatMap((c) => (c.redial ? [c.redial.record] : []));
  return { records, outcomes: Object.fromEntries(state.outcomes) };
}

/** Every WAMP caller of this worker keeps `window` calls in flight for `durationMs` (`WampClient.call`). */
async function wampCalls(m: { window: number; durationMs: number }) {
  const callers = state.conns.filter((c) => c.role === 'caller' && !c.closed);
  const runs = await Promise.all(callers.map((c) => c.wamp!.call(m.window, m.durationMs)));
  return {
    callers: callers.length,
    sent: runs.reduce((n, r) => n + r.sent, 0),
    answered: runs.reduce((n, r) => n + r.answered, 0),
    errors: runs.reduce((n, r) => n + r.errors, 0),
  };
}

/** How many invocations each WAMP callee of this worker has had. */
function wampCallees() {
  return { invocations: state.conns.flatMap((c) => (c.role === 'callee' ? [c.wamp!.invocations] : [])) };
}

async function closeAll() {
  clearInterval(state.progressTimer);
  clearInterval(state.keepaliveTimer);
  for (const c of state.conns) c.redial?.stop();
  const open = state.conns.filter((c) => !c.closed);
  for (const c of open) c.socket!.destroy();
  state.conns = [];
  return { closed: open.length };
}

const handlers = {
  connect,
  stats,
  check,
  reset,
  resetCounts,
  progress,
  keepalive,
  clientEvents,
  ceAllow,
  churn,
  presenceCheck,
  resetPresence,
  resumeSlow,
  httpLoad,
  storm,
  stormProgress,
  stormReport,
  wampCalls,
  wampCallees,
  closeAll,
};

/** The commands a worker answers, by name; the pool calls them with their arguments (see pool.ts). */
export type Handlers = typeof handlers;

/** A command from the pool: a handler's name, the call's id, and the handler's arguments. */
export type Command = { id: number; cmd: keyof Handlers } & Record<string, unknown>;

/** The answer to a command; `error` is the stack of what the handler threw. */
export type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** What a worker sends the pool: answers, and the count of bench messages received (`progress`). */
export type WorkerMessage = Reply | { type: 'progress'; received: number };

const reply = (message: Reply): void => {
  process.send!(message);
};

process.on('message', async (m: Command) => {
  try {
    const result = await (handlers[m.cmd] as (m: Command) => unknown)(m);
    reply({ id: m.id, ok: true, result });
  } catch (err) {
    reply({ id: m.id, ok: false, error: (err as Error).stack ?? String(err) });
  }
});
process.on('disconnect', () => process.exit(0));
