import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a shared server (a database), for tests of that server going away without
 * stopping it (other tests use it): `down()` cuts every connection and refuses new ones, `silence()`
 * keeps connections open but passes nothing on, as a server that hangs or a network that drops
 * packets; `up()` and `speak()` undo each. In front of Herald, `cut()` breaks a client's connection
 * mid-stream and holds its reconnection until `release()`, so that a test knows what happened between.
 */
export class TcpProxy {
  #target: { host: string; port: number };
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #port = 0;
  #silent = false;
  /** While cut: the connections accepted since, each waiting to be passed on. */
  #held: (() => void)[] | undefined;

  private constructor(target: { host: string; port: number }) {
    this.#target = target;
  }

  /** A proxy on a free port of 127.0.0.1 to `url`'s host and port (`defaultPort` when it names none). */
  static async start(url: string, defaultPort: number): Promise<TcpProxy> {
    const { hostname, port } = new URL(url);
    const proxy = new TcpProxy({ host: hostname, port: Number(port || defaultPort) });
    await proxy.up();
    return proxy;
  }

  get port(): number {
    return this.#port;
  }

  /** `url` with the proxy's host and port in place of the server's. */
  url(url: string): string {
    const through = new URL(url);
    through.hostname = '127.0.0.1';
    through.port = String(this.#port);
    return through.toString();
  }

  /** Accepts connections again, on the port it had (a free one the first time). */
  async up(): Promise<void> {
    if (this.#server) return;
    const server = createServer((client) => this.#accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => resolve());
    });
    this.#port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  /** Cuts every connection (each side sees a reset) and stops accepting new ones. */
  async down(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.resetAndDestroy();
    this.#sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Cuts every connection (each side sees a reset) and holds new ones: they are accepted, and what
   * they send waits until `release()`.
   */
  cut(): void {
    for (const socket of this.#sockets) socket.resetAndDestroy();
    this.#sockets.clear();
    this.#held ??= [];
  }

  /** Connections from now on (those held by `cut()` included) go to `url`'s host and port. */
  retarget(url: string): void {
    const { hostname, port } = new URL(url);
    this.#target = { host: hostname, port: Number(port) };
  }

  /** Passes the connections held since `cut()` on, and new ones at once. */
  release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const pass of held) pass();
  }

  /** Passes nothing on from now: bytes sent either way are dropped, and new connections get no answer. */
  silence(): void {
    this.#silent = true;
  }

  /** Passes bytes on again; connections that lost bytes meanwhile are cut (their protocol is out of step). */
  speak(): void {
    this.#silent = false;
    for (const socket of this.#sockets)
      if (socket.destroyed === false && lostBytes.has(socket)) socket.destroy();
  }

  async close(): Promise<void> {
    await this.down();
  }

  #accept(client: Socket): void {
    this.#track(client);
    if (this.#silent) {
      lostBytes.add(client); // a connection nobody answers; the client gives up on it
      client.on('data', () => {});
      return;
    }
    if (this.#held) {
      const chunks: Buffer[] = [];
      const keep = (chunk: Buffer) => chunks.push(chunk);
      client.on('data', keep);
      this.#held.push(() => {
        client.off('data', keep);
        if (!client.destroyed) this.#connect(client, chunks);
      });
      return;
    }
    this.#connect(client, []);
  }

  /** Connects `client` to the target, sending `first` ahead of what it sends from now. */
  #connect(client: Socket, first: Buffer[]): void {
    const upstream = connect(this.#target);
    this.#track(upstream);
    for (const chunk of first) upstream.write(chunk);
    this.#pipe(client, upstream);
    this.#pipe(upstream, client);
  }

  #pipe(from: Socket, to: Socket): void {
    from.on('data', (chunk) => {
      if (this.#silent) {
        lostBytes.add(from).add(to);
        return;
      }
      to.write(chunk);
    });
    from.on('end', () => to.end());
    from.on('close', () => to.destroy());
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('error', () => socket.destroy()); // the other side is told through 'close'
    socket.on('close', () => this.#sockets.delete(socket));
  }
}

/** Sockets that dropped bytes while the proxy was silent. */
const lostBytes = new WeakSet<Socket>();
