import { connect, type Socket } from 'node:net';
import { within } from './raw-client.js';

/** One HTTP response as it came off the wire. */
export interface RawResponse {
  status: number;
  /** Header names lower-cased; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * An HTTP/1.1 client on a bare TCP socket: what it is given goes out byte for byte, so request
 * targets and headers reach the server exactly as written, without a client library normalising or
 * refusing them. Every read is bounded by a deadline.
 */
export class RawHttp {
  readonly socket: Socket;
  /** Resolves when the socket is closed, by either side. */
  readonly closed: Promise<void>;
  #buffered = Buffer.alloc(0);
  #ended = false;
  #wake: (() => void) | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      this.#buffered = Buffer.concat([this.#buffered, chunk]);
      this.#wake?.();
    });
    // A reset after the server answered and closed is how some refusals end; reads see it as the end.
    socket.on('error', () => {});
    socket.on('close', () => {
      this.#ended = true;
      this.#wake?.();
    });
  }

  static async connect(port: number, deadlineMs = 5000): Promise<RawHttp> {
    const socket = connect(port, '127.0.0.1');
    await within(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      }),
      deadlineMs,
      'TCP connect',
    );
    return new RawHttp(socket);
  }

  /** Bytes received and not yet taken by `response` (after a 101: the first WebSocket frames). */
  get buffered(): Buffer {
    return this.#buffered;
  }

  get ended(): boolean {
    return this.#ended;
  }

  write(data: string | Buffer): void {
    if (!this.socket.destroyed)
      this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /**
   * The next response. `head` says the request was a HEAD (no body follows). Without Content-Length the
   * body runs to the end of the connection. Rejects if the connection ends first or `deadlineMs` passes.
   */
  async response(deadlineMs = 5000, head = false): Promise<RawResponse> {
    const deadline = Date.now() + deadlineMs;
    while (this.#buffered.indexOf(HEAD_END) < 0) await this.#more(deadline, 'response head');
    const end = this.#buffered.indexOf(HEAD_END);
    const lines = this.#buffered.subarray(0, end).toString('latin1').split('\r\n');
    const statusLine = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0]!);
    if (!statusLine) throw new Error(`not an HTTP status line: ${JSON.stringify(lines[0])}`);
    const status = Number(statusLine[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const start = end + HEAD_END.length;
    if (head || status === 101 || status === 204 || status === 304 || (status >= 100 && status < 200)) {
      this.#buffered = this.#buffered.subarray(start);
      return { status, headers, body: Buffer.alloc(0) };
    }
    if (headers['transfer-encoding'] !== undefined) {
      throw new Error(`unexpected Transfer-Encoding ${headers['transfer-encoding']} (status ${status})`);
    }
    const declared = headers['content-length'];
    if (declared === undefined) {
      while (!this.#ended) await this.#more(deadline, 'body to the end of the connection');
      const body = this.#buffered.subarray(start);
      this.#buffered = Buffer.alloc(0);
      return { status, headers, body };
    }
    const length = Number(declared);
    while (this.#buffered.length < start + length) await this.#more(deadline, `${length}-byte body`);
    const body = this.#buffered.subarray(start, start + length);
    this.#buffered = this.#buffered.subarray(start + length);
    return { status, headers, body };
  }

  /** Resolves once the server has closed the connection; rejects after `deadlineMs`. */
  async waitClosed(deadlineMs = 5000): Promise<void> {
    await within(this.closed, deadlineMs, 'the server to close the connection');
  }

  destroy(): void {
    this.socket.destroy();
  }

  async #more(deadline: number, what: string): Promise<void> {
    if (this.#ended) throw new Error(`connection ended while waiting for the ${what}`);
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out waiting for the ${what}`);
    await within(
      new Promise<void>((resolve) => {
        this.#wake = resolve;
      }),
      left,
      `the ${what}`,
    ).finally(() => {
      this.#wake = undefined;
    });
  }
}

/** Sends one request on a fresh connection and reads its response. */
export async function rawRequest(
  port: number,
  request: string | Buffer,
  deadlineMs = 5000,
): Promise<RawResponse> {
  const http = await RawHttp.connect(port, deadlineMs);
  try {
    http.write(request);
    return await http.response(deadlineMs);
  } finally {
    http.destroy();
  }
}

/** Headers that make a request a valid WebSocket upgrade (RFC 6455 section 4.1). */
export const UPGRADE_HEADERS =
  'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

/** The JSON error of a refusal; fails unless the body is JSON with a non-empty string `error`. */
export function errorOf(response: RawResponse): string {
  assertJsonType(response);
  const parsed = JSON.parse(response.body.toString('utf8')) as { error?: unknown };
  if (typeof parsed.error !== 'string' || parsed.error.length === 0) {
    throw new Error(`status ${response.status} without a JSON "error": ${response.body.toString('utf8')}`);
  }
  return parsed.error;
}

function assertJsonType(response: RawResponse): void {
  const type = response.headers['content-type'] ?? '';
  if (!type.startsWith('application/json')) {
    throw new Error(`status ${response.status} with Content-Type ${JSON.stringify(type)}, not JSON`);
  }
}
