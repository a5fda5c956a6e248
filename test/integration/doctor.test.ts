import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { doctor } from '../../src/cli/doctor.js';
import { makeCertificates, type TestCertificates, tlsProxy } from '../helpers/certificates.js';
import { APP, startHerald, type TestHerald } from '../helpers/herald.js';
import { within } from '../helpers/raw-client.js';

/** `herald doctor` against real servers: healthy, misconfigured, stopped, behind TLS. */

const BIN = fileURLToPath(new URL('../../../bin/herald.js', import.meta.url));

async function runDoctor(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await within(
    doctor(['--timeout', '3', ...args], {
      out: (text) => {
        out += text;
      },
      err: (text) => {
        err += text;
      },
    }),
    30_000,
    `herald doctor ${args.join(' ')}`,
  );
  return { code, out, err };
}

/** The verdict line of `name`: its mark and its text. */
function line(out: string, name: string): string {
  const found = out.split('\n').find((l) => l.slice(2).startsWith(`${name} `));
  assert.ok(found, `no "${name}" line in:\n${out}`);
  return found;
}

/** A port nothing listens on: bound once, then released. */
async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('herald doctor', () => {
  let server: TestHerald;
  let receiver: Server;
  let receiverUrl: string;
  let dir: string;

  before(async () => {
    server = await startHerald();
    // A webhook receiver takes POST only, as most frameworks' routes do: HEAD gets 405.
    receiver = createServer((_req, res) => res.writeHead(405).end());
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/pusher/webhooks`;
    dir = await mkdtemp(join(tmpdir(), 'herald-doctor-'));
  });

  after(async () => {
    await server.stop();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  test('a healthy server: every check passes, exit 0', async () => {
    const { code, out } = await runDoctor(['--url', server.httpUrl]);
    assert.equal(code, 0, out);
    for (const name of ['server', 'clock', 'WebSocket', 'subscription', 'HTTP API', 'delivery']) {
      assert.match(line(out, name), /^✓ /);
    }
    assert.match(line(out, 'delivery'), /the event reached the subscriber/);
    assert.match(out, /\nHealthy\.\n$/);
  });

  test('ws:// in --url is the same server', async () => {
    const { code, out } = await runDoctor(['--url', server.httpUrl.replace('http:', 'ws:')]);
    assert.equal(code, 0, out);
  });

  test('a wrong secret: the HTTP API line says to check --app-secret, exit 1', async () => {
    const { code, out } = await runDoctor(['--url', server.httpUrl, '--app-secret', 'not-the-secret']);
    assert.equal(code, 1, out);
    assert.equal(
      line(out, 'HTTP API'),
      '✗ HTTP API         the HTTP API refused the signature: check --app-secret',
    );
    assert.match(line(out, 'WebSocket'), /^✓ /);
    assert.match(line(out, 'delivery'), /^- .*not checked/);
    assert.match(out, /Not healthy: 1 check failed/);
  });

  test('a wrong key: the WebSocket and the HTTP API both say to check --app-key', async () => {
    const { code, out } = await runDoctor(['--url', server.httpUrl, '--app-key', 'nobody']);
    assert.equal(code, 1, out);
    assert.match(line(out, 'WebSocket'), /^✗ .*does not know app key "nobody": check --app-key/);
    assert.match(line(out, 'HTTP API'), /^✗ .*does not know app key "nobody": check --app-key/);
  });

  test('a wrong app id: the HTTP API line says to check --app-id', async () => {
    const { code, out } = await runDoctor(['--url', server.httpUrl, '--app-id', 'other-id']);
    assert.equal(code, 1, out);
    assert.match(line(out, 'HTTP API'), /^✗ .*no app "other-id": check --app-id/);
  });

  test('a stopped server: connection refused, what to do, the rest skipped, exit 1', async () => {
    const port = await freePort();
    const { code, out, err } = await runDoctor(['--url', `http://127.0.0.1:${port}`]);
    assert.equal(code, 1, out);
    assert.equal(err, '');
    assert.match(
      line(out, 'server'),
      new RegExp(`^✗ .*connection refused at 127\\.0\\.0\\.1:${port}: is Herald running\\?`),
    );
    for (const name of ['clock', 'WebSocket', 'HTTP API', 'delivery']) assert.match(line(out, name), /^- /);
    assert.doesNotMatch(out, /\n\s+at /);
  });

  test('--config: the port, the app and every webhook URL come from the file', async () => {
    const unreachable = `http://127.0.0.1:${await freePort()}/hooks`;
    const file = join(dir, 'herald.json');
    await writeFile(
      file,
      JSON.stringify({
        host: '127.0.0.1',
        port: server.port,
        apps: [
          { ...APP, webhooks: [{ url: receiverUrl }] },
          {
            id: 'two',
            key: 'two-key',
            secret: 'two-secret',
            webhooks: [{ url: unreachable }, { url: receiverUrl }],
          },
        ],
      }),
    );
    const { code, out } = await runDoctor(['--config', file]);
    assert.equal(code, 1, out);
    assert.match(line(out, 'delivery'), /^✓ /);
    const webhooks = out.split('\n').filter((l) => l.slice(2).startsWith('webhook '));
    assert.equal(webhooks.length, 2, out);
    assert.match(webhooks[0]!, new RegExp(`^✓ .*${receiverUrl} is reachable \\(HEAD answered 405\\)`));
    assert.match(webhooks[1]!, /^✗ .*connection refused at .*\/hooks: Herald retries/);
  });

  test('--config with an admin listener: the HTTP API is reached there, WebSockets on the public port', async () => {
    const admin = await startHerald({ api: { port: 0, public: false } });
    try {
      const file = join(dir, 'admin.json');
      await writeFile(
        file,
        JSON.stringify({
          host: '127.0.0.1',
          port: admin.port,
          api: { host: '127.0.0.1', port: admin.apiPort, public: false },
          apps: [APP],
        }),
      );
      const { code, out } = await runDoctor(['--config', file]);
      assert.equal(code, 0, out);
      assert.match(line(out, 'HTTP API'), /^✓ /);
      assert.match(line(out, 'delivery'), /^✓ /);
    } finally {
      await admin.stop();
    }
  });

  test('--webhook-url adds a receiver to check', async () => {
    const { code, out } = await runDoctor(['--url', server.httpUrl, '--webhook-url', receiverUrl]);
    assert.equal(code, 0, out);
    assert.match(line(out, 'webhook'), /^✓ .*is reachable/);
  });

  test('bad usage exits 2 and says why', async () => {
    const cases: [string[], RegExp][] = [
      [['--url', 'ftp://example.com'], /--url must be http:\/\/, https:\/\/, ws:\/\/ or wss:\/\//],
      [['--url', 'http://127.0.0.1:1/prefix'], /--url takes the server only/],
      [['--url', 'not a url'], /is not a URL/],
      [['--webhook-url', 'mailto:x@example.com'], /--webhook-url "mailto:x@example.com" is not an http/],
      [['--timeout', '0'], /--timeout must be a number of seconds/],
      [['--ca', join(dir, 'missing.pem')], /--ca .*missing\.pem: cannot be read \(ENOENT\)/],
      [['--config', join(dir, 'missing.json')], /missing\.json: cannot be read/],
      [['--bogus'], /Unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      const { code, out, err } = await runDoctor(args);
      assert.equal(code, 2, `${args.join(' ')}: ${out}${err}`);
      assert.match(err, message);
      assert.equal(out, '');
    }
  });

  test('bin/herald.js doctor runs the command (exit 0 on a healthy server)', async () => {
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('HERALD_') && k !== 'NODE_TEST_CONTEXT'),
    );
    const child = spawn(process.execPath, [BIN, 'doctor', '--url', server.httpUrl], { env });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    const code = await within(
      new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c))),
      30_000,
      'herald doctor to exit',
    );
    assert.equal(code, 0, out);
    assert.match(out, /✓ delivery/);
  });
});

describe('herald doctor over TLS', () => {
  let server: TestHerald;
  let certs: TestCertificates;
  const proxies: { close(): Promise<void> }[] = [];

  before(async () => {
    server = await startHerald();
    certs = await makeCertificates();
  });

  after(async () => {
    for (const p of proxies) await p.close();
    await server.stop();
    await certs.remove();
  });

  /** Herald behind a TLS proxy that serves `pair`; resolves with the https URL. */
  async function behindTls(pair: { cert: string; key: string }): Promise<string> {
    const proxy = await tlsProxy(pair, server.port);
    proxies.push(proxy);
    return `https://localhost:${proxy.port}`;
  }

  test('a valid certificate from a CA given with --ca: healthy over https and wss', async () => {
    const url = await behindTls(certs.valid);
    const { code, out } = await runDoctor(['--url', url, '--ca', certs.caFile]);
    assert.equal(code, 0, out);
    assert.match(line(out, 'TLS certificate'), /^✓ .*valid until \d{4}-\d\d-\d\d \(36[45] days\)/);
    assert.match(line(out, 'delivery'), /^✓ /);
  });

  test('a certificate that expires in 5 days: a warning, still exit 0', async () => {
    const url = await behindTls(certs.soon);
    const { code, out } = await runDoctor(['--url', url, '--ca', certs.caFile]);
    assert.equal(code, 0, out);
    assert.match(line(out, 'TLS certificate'), /^! .*expires in [45] days, on \d{4}-\d\d-\d\d: renew it now/);
    assert.match(out, /Healthy, with 1 warning/);
  });

  test('an expired certificate: the certificate line says when and what to do, exit 1', async () => {
    const url = await behindTls(certs.expired);
    const { code, out } = await runDoctor(['--url', url, '--ca', certs.caFile]);
    assert.equal(code, 1, out);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    assert.equal(
      line(out, 'TLS certificate'),
      `✗ TLS certificate  expired on ${yesterday}: renew it, then restart what serves it (Herald or the TLS proxy)`,
    );
    assert.match(line(out, 'server'), /^✗ .*the TLS certificate of localhost:\d+ has expired/);
  });

  test('a certificate from an unknown CA: not trusted, with what to do', async () => {
    const url = await behindTls(certs.valid);
    const { code, out } = await runDoctor(['--url', url]);
    assert.equal(code, 1, out);
    assert.match(line(out, 'TLS certificate'), /^✗ .*not trusted \(.*\): serve the full chain .* --ca FILE/);
  });

  test('a certificate for another name', async () => {
    const proxy = await tlsProxy(certs.valid, server.port, '127.0.0.2');
    proxies.push(proxy);
    // 127.0.0.2 is this machine too, but an address the certificate does not list.
    const { code, out } = await runDoctor(['--url', `https://127.0.0.2:${proxy.port}`, '--ca', certs.caFile]);
    assert.equal(code, 1, out);
    assert.match(
      line(out, 'TLS certificate'),
      /^✗ .*issued for another name .*: use a certificate issued for 127\.0\.0\.2/,
    );
  });
});
