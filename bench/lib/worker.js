/**
 * A load-client process: many raw TCP sockets speaking just enough WebSocket (RFC 6455) and Pusher
 * protocol to subscribe, receive, send client events and churn presence. Driven over IPC by run.js.
 *
 * Cheap on purpose so that clients are not the bottleneck: no WebSocket library, one clock read per
 * TCP chunk, and bench messages are recognised by their `data` prefix (`<seq>|<publish µs>|…`) without
 * parsing JSON. Frames to the server are masked with a zero key (valid framing, unmasking is a no-op).
 */
import { createHmac } from 'node:crypto';
import net from 'node:net';
import { Publisher, RawHttpClient } from './publisher.js';
import { bucketOf, newHistogram, nowUs } from './stats.js';

const DATA_MARK = Buffer.from('"data":"');
const PIPE = 0x7c;
const CONNECT_TIMEOUT_MS = 15_000;

const state = {
  /** @type {Conn[]} */
  conns: [],
  /** Bench messages received by reading subscribers since the last `reset`. */
  received: 0,
  hist: newHistogram(),
  /** Bench messages received by reading subscribers since the last `resetCounts`. */
  epochReceived: 0,
  seqCheck: true,
  /** @type {Map<string, number>} */
  errors: new Map(),
  progressTimer: undefined,
  keepaliveTimer: undefined,
};

function countError(what) {
  state.errors.set(what, (state.errors.get(what) ?? 0) + 1);
}

/** A client-to-server text frame, masked with a zero key. */
function clientFrame(text, opcode = 0x1) {
  const payload = Buffer.from(text);
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
  payload.copy(buf, hdr);
  return buf;
}

function sign(secret, text) {
  return createHmac('sha256', secret).update(text).digest('hex');
}

/** Parses decimal digits from `buf[i]` up to the next `|`; returns [value, index after the pipe] or null. */
function digits(buf, i, end) {
  let v = 0;
  let p = i;
  while (p < end) {
    const c = buf[p];
    if (c === PIPE) return p > i ? [v, p + 1] : null;
    if (c < 48 || c > 57) return null;
    v = v * 10 + (c - 48);
    p++;
  }
  return null;
}

class Conn {
  constructor(options, index) {
    this.o = options;
    this.index = index;
    this.role = options.role ?? 'sub';
    /** A slow subscriber stops reading once subscribed (and until `resumeSlow`). */
    this.slow = options.slow === true;
    /** @type {net.Socket | undefined} */
    this.socket = undefined;
    this.head = '';
    this.upgraded = false;
    /** @type {Buffer | null} */
    this.rem = null;
    this.socketId = '';
    this.closed = false;
    this.closeCode = 0;
    this.count = 0;
    this.next = 1;
    this.gaps = 0;
    this.reorders = 0;
    this.pending = undefined;
    this.userId = `${options.userPrefix ?? 'u'}-${index}`;
    /** Observers of a presence channel: user id → what was seen. */
    this.members = new Map();
    this.violations = 0;
    this.joins = 0;
  }

  /** Opens, finishes the handshake, and subscribes when a channel is given. */
  async start() {
    const { host, port, path, localAddress } = this.o;
    const established = this.wait((m) => m.event === 'pusher:connection_established');
    established.catch(() => {});
    await new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, localAddress, noDelay: true });
      this.socket = socket;
      socket.once('connect', () => {
        socket.write(
          `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        );
        resolve();
      });
      socket.once('error', reject);
      socket.on('data', (chunk) => this.onData(chunk));
      socket.on('close', () => this.onClose());
    });
    this.socket.on('error', (err) => countError(`socket ${err.code ?? err.message}`));
    await established;
    const { channel, channelSpread } = this.o;
    if (channel && this.role !== 'churner') {
      await this.subscribe(channelSpread > 1 ? `${channel}-${this.index % channelSpread}` : channel);
    }
    if (this.slow) this.socket.pause();
  }

  /** Sends `pusher:subscribe` (signing private and presence channels) and waits for the answer. */
  async subscribe(channel) {
    const data = { channel };
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
    );
    this.send(JSON.stringify({ event: 'pusher:subscribe', data }));
    const m = await answer;
    if (m.event === 'pusher:subscription_error')
      throw new Error(`subscription_error ${JSON.stringify(m.data)}`);
  }

  wait(match, timeoutMs = CONNECT_TIMEOUT_MS) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        reject(new Error('timeout'));
      }, timeoutMs);
      this.pending = { match, resolve, reject, timer };
    });
  }

  send(text) {
    if (!this.closed && this.socket) this.socket.write(clientFrame(text));
  }

  onData(chunk) {
    let buf = chunk;
    if (!this.upgraded) {
      this.head += chunk.toString('latin1');
      const end = this.head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = this.head.slice(0, this.head.indexOf('\r\n'));
      if (!/^HTTP\/1\.1 101/.test(status)) {
        this.fail(new Error(status));
        this.socket.destroy();
        return;
      }
      this.upgraded = true;
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
      let plen = buf[off + 1] & 0x7f;
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
      this.frame(buf[off] & 0x0f, buf, off + hdr, end, now);
      off = end;
    }
    if (off < len) this.rem = Buffer.from(buf.subarray(off));
  }

  frame(opcode, buf, start, end, now) {
    if (opcode === 0x1) {
      const d = buf.indexOf(DATA_MARK, start);
      if (d !== -1 && d < end) {
        const seq = digits(buf, d + DATA_MARK.length, end);
        if (seq !== null) {
          const t = digits(buf, seq[1], end);
          if (t !== null) return this.bench(seq[0], t[0], now);
        }
      }
      let m;
      try {
        m = JSON.parse(buf.toString('utf8', start, end));
      } catch {
        return countError('unparseable frame');
      }
      return this.control(m);
    }
    if (opcode === 0x8) {
      this.closeCode = end - start >= 2 ? buf.readUInt16BE(start) : 1005;
      if (this.socket.writable) this.socket.end(clientFrame('', 0x8));
      return;
    }
    if (opcode === 0x9) {
      if (this.socket.writable) this.socket.write(clientFrame(buf.toString('latin1', start, end), 0xa));
    }
  }

  bench(seq, t, now) {
    if (this.slow) {
      this.count++;
      return;
    }
    this.count++;
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
    state.hist[bucketOf(now - t)]++;
  }

  control(m) {
    switch (m.event) {
      case 'pusher:connection_established':
        this.socketId = JSON.parse(m.data).socket_id;
        break;
      case 'pusher:ping':
        this.send('{"event":"pusher:pong","data":{}}');
        break;
      case 'pusher_internal:member_added':
      case 'pusher_internal:member_removed':
        if (this.role === 'observer') this.member(m);
        break;
      case 'pusher:error': {
        const data = typeof m.data === 'string' ? JSON.parse(m.data) : (m.data ?? {});
        countError(`pusher:error ${data.code ?? ''} ${String(data.message ?? '').slice(0, 80)}`);
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

  member(m) {
    const data = typeof m.data === 'string' ? JSON.parse(m.data) : m.data;
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

  fail(err) {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    p.reject(err);
  }

  onClose() {
    this.closed = true;
    if (this.closeCode === 0) this.closeCode = 1006;
    this.fail(new Error(`closed ${this.closeCode}`));
  }
}

async function connect(m) {
  const started = performance.now();
  let ok = 0;
  const failures = new Map();
  let next = 0;
  const addresses = m.localAddresses?.length ? m.localAddresses : [undefined];
  const one = async () => {
    while (next < m.count) {
      const i = next++;
      const index = m.firstIndex + i;
      const conn = new Conn({ ...m, localAddress: addresses[index % addresses.length] }, index);
      try {
        await conn.start();
        state.conns.push(conn);
        ok++;
      } catch (err) {
        failures.set(err.message, (failures.get(err.message) ?? 0) + 1);
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
  const closeCodes = {};
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
function check(m) {
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

function resetCounts(m) {
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

function progress(m) {
  clearInterval(state.progressTimer);
  state.progressTimer = undefined;
  if (m.everyMs > 0) {
    state.progressTimer = setInterval(
      () => process.send({ type: 'progress', received: state.epochReceived }),
      m.everyMs,
    );
  }
  return {};
}

/** Sends `pusher:ping` from every connection once per `everyMs`, spread over ten ticks. */
function keepalive(m) {
  clearInterval(state.keepaliveTimer);
  state.keepaliveTimer = undefined;
  if (!(m.everyMs > 0)) return {};
  let tick = 0;
  state.keepaliveTimer = setInterval(() => {
    const slot = tick++ % 10;
    for (let i = slot; i < state.conns.length; i += 10) {
      const c = state.conns[i];
      if (!c.slow) c.send('{"event":"pusher:ping","data":{}}');
    }
  }, m.everyMs / 10);
  return {};
}

/**
 * `senders` connections each send `rate` client events per second for `durationMs`; with `rate` 0, as
 * many as the credit allows (`upTo` events per sender, raised by `ceAllow`).
 */
async function clientEvents(m) {
  const senders = state.conns.filter((c) => !c.closed && c.role === 'sub').slice(0, m.senders);
  const pad = 'x'.repeat(Math.max(0, m.bytes ?? 0));
  const seqs = senders.map(() => 0);
  const started = performance.now();
  state.ceUpTo = m.upTo ?? 0;
  let sent = 0;
  await new Promise((resolve) => {
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
          while (seqs[i] < due) {
            seqs[i]++;
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
function ceAllow(m) {
  state.ceUpTo = Math.max(state.ceUpTo ?? 0, m.upTo);
  return {};
}

/** Churners join and leave `channel` in a loop for `durationMs` (join confirmed, leave right after). */
async function churn(m) {
  const churners = state.conns.filter((c) => c.role === 'churner' && !c.closed);
  const deadline = performance.now() + m.durationMs;
  const failures = new Map();
  await Promise.all(
    churners.map(async (c) => {
      while (performance.now() < deadline && !c.closed) {
        try {
          await c.subscribe(m.channel);
          c.joins++;
          c.send(JSON.stringify({ event: 'pusher:unsubscribe', data: { channel: m.channel } }));
        } catch (err) {
          failures.set(err.message, (failures.get(err.message) ?? 0) + 1);
          break;
        }
      }
    }),
  );
  const joins = {};
  for (const c of churners) joins[c.userId] = c.joins;
  return { joins, failures: Object.fromEntries(failures) };
}

/** Do this worker's observers agree with the churners' joins (one added and one removed each)? */
function presenceCheck(m) {
  let observers = 0;
  let wrong = 0;
  let violations = 0;
  let added = 0;
  let removed = 0;
  const examples = [];
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
  for (const c of state.conns) if (c.slow && !c.closed) c.socket.resume();
  return {};
}

/**
 * `clients` concurrent keep-alive HTTP clients trigger events to a channel without subscribers for
 * `warmupMs + durationMs`; requests started after the warm-up are counted.
 */
/**
 * HTTP API load: `clients` keep-alive clients, each sending `POST /events` one after the other, as
 * `publisher` says: `sdk` signs every request and sends it with `http.request` over a keep-alive agent,
 * as the `pusher` SDK does; `raw` signs one request at the start (its timestamp stays valid for the
 * run; the server still checks every signature) and sends the same bytes over raw sockets, so that
 * the server alone sets the pace.
 */
async function httpLoad(m) {
  const { signRequest } = await import(m.authModule);
  const hist = newHistogram();
  const statuses = {};
  let requests = 0;
  const started = performance.now();
  const measureFrom = started + m.warmupMs;
  const end = measureFrom + m.durationMs;
  const event = { name: 'b', channel: m.channel, data: `1|${nowUs()}|${'x'.repeat(m.bytes ?? 0)}` };
  const record = (status, t0, now) => {
    if (t0 < measureFrom || t0 >= end) return;
    requests++;
    statuses[status] = (statuses[status] ?? 0) + 1;
    hist[bucketOf((now - t0) * 1000)]++;
  };
  if (m.publisher === 'raw') await rawHttpLoad(m, signRequest, event, end, record);
  else {
    const publisher = new Publisher({
      host: m.host,
      port: m.port,
      app: m.app,
      signRequest,
      maxSockets: m.clients,
    });
    const client = async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const res = await publisher.post('events', event);
        record(res.status, t0, performance.now());
      }
    };
    await Promise.all(Array.from({ length: m.clients }, client));
    publisher.close();
  }
  return { requests, statuses, hist, ms: m.durationMs };
}

async function rawHttpLoad(m, signRequest, event, end, record) {
  const body = JSON.stringify(event);
  const path = `/apps/${m.app.id}/events`;
  const query = new URLSearchParams(signRequest('POST', path, m.app, body)).toString();
  const request = Buffer.from(
    `POST ${path}?${query} HTTP/1.1\r\nHost: ${m.host}:${m.port}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  const clients = Array.from(
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

async function closeAll() {
  clearInterval(state.progressTimer);
  clearInterval(state.keepaliveTimer);
  const open = state.conns.filter((c) => !c.closed);
  for (const c of open) c.socket.destroy();
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
  closeAll,
};

process.on('message', async (m) => {
  try {
    const result = await handlers[m.cmd](m);
    process.send({ id: m.id, ok: true, result });
  } catch (err) {
    process.send({ id: m.id, ok: false, error: err.stack ?? String(err) });
  }
});
process.on('disconnect', () => process.exit(0));
