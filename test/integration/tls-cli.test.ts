import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { brokerSkip, deleteRedisPrefix, REDIS_URL, uniquePrefix } from '../helpers/brokers.js';
import { APP } from '../helpers/herald.js';
import { clientFixture, HERALD_BIN, type Line, LineProcess } from '../helpers/line-process.js';
import { within } from '../helpers/raw-client.js';
import { handshake, type Issued, opensslSkip, TestPki, tlsSdk } from '../helpers/tls.js';

/**
 * `herald start --ssl-cert --ssl-key` as an operator runs it (docs/operations.md, TLS): certificates it
 * cannot use stop the start with the reason on stderr, and SIGHUP swaps the certificate for new
 * handshakes while open connections stay.
 */

const GUARD_MS = 15_000;

const isListening = (line: Line) =>
  typeof line.msg === 'string' && line.msg.includes(' listening on https://');

describe('herald start with TLS', { skip: opensslSkip }, () => {
  let pki: TestPki;
  let first: Issued;
  let second: Issued;
  const runs: LineProcess[] = [];
  const herald = (args: string[], env: Record<string, string> = {}) => {
    const run = new LineProcess([HERALD_BIN, 'start', '--host', '127.0.0.1', '--port', '0', ...args], env);
    runs.push(run);
    return run;
  };
  const sdk = (port: number) => tlsSdk(port, pki.root.certPem);

  before(async () => {
    pki = await TestPki.create();
    [first, second] = await Promise.all([pki.issue('first'), pki.issue('second')]);
  });
  after(async () => {
    await Promise.all(runs.map((run) => run.stop('SIGKILL')));
    await pki?.remove();
  });

  test('files it cannot use: exit 1 before listening, each problem on stderr', async () => {
    const lapsed = await pki.issue('lapsed', { days: -1 });
    const garbage = await pki.write('garbage.pem', '-----BEGIN CERTIFICATE-----\nnot base64\n');
    const cases: [string[], RegExp][] = [
      [
        ['--ssl-cert', `${pki.dir}/missing.pem`, '--ssl-key', first.key],
        /^ {2}tls\.cert \(--ssl-cert\): cannot read \S+missing\.pem \(no such file\)$/m,
      ],
      [
        ['--ssl-cert', first.cert, '--ssl-key', second.key],
        /^ {2}tls\.key \(--ssl-key\): \S+second\.key is not the key/m,
      ],
      [
        ['--ssl-cert', lapsed.cert, '--ssl-key', lapsed.key],
        /^ {2}tls\.cert \(--ssl-cert\): the certificate of "CN=localhost" expired on /m,
      ],
      [
        ['--ssl-cert', garbage, '--ssl-key', first.key],
        /^ {2}tls\.cert \(--ssl-cert\): \S+garbage\.pem holds no PEM certificate/m,
      ],
    ];
    for (const [args, problem] of cases) {
      const run = herald(args);
      assert.deepEqual(await within(run.exited, GUARD_MS, `herald ${args.join(' ')} to exit`), {
        code: 1,
        signal: null,
      });
      assert.match(run.stderr(), /^herald: cannot serve TLS with these files:\n/);
      assert.match(run.stderr(), problem);
      assert.doesNotMatch(run.stdout(), /listening/);
    }
  });

  test('SIGHUP: new handshakes get the new certificate and open connections stay; a bad file keeps it', async () => {
    const cert = await pki.write('live.pem', first.certPem);
    const key = await pki.write('live.key', first.keyPem);
    const run = herald(['--ssl-cert', cert, '--ssl-key', key]);
    const port = (await within(run.next(isListening), GUARD_MS, 'herald to listen')).port as number;
    assert.match(run.stdout(), new RegExp(`wsHost: '127\\.0\\.0\\.1', wssPort: ${port}, forceTLS: true`));
    assert.equal((await handshake(port, pki.root.certPem)).serialNumber, first.serialNumber);

    const subscriber = new LineProcess(
      [clientFixture('pusher-js'), APP.key, '127.0.0.1', String(port), 'rotation'],
      { NODE_EXTRA_CA_CERTS: pki.root.cert },
    );
    runs.push(subscriber);
    await within(subscriber.next('subscribed'), GUARD_MS, 'pusher-js to subscribe before the reload');

    await Promise.all([writeFile(cert, second.certPem), writeFile(key, second.keyPem)]);
    run.child.kill('SIGHUP');
    const reloaded = await within(run.next('TLS certificate reloaded'), GUARD_MS, 'the reload');
    assert.equal((reloaded.certificate as { serialNumber: string }).serialNumber, second.serialNumber);
    const presented = await handshake(port, pki.root.certPem);
    assert.equal(presented.serialNumber, second.serialNumber);
    assert.equal(presented.fingerprint256, second.fingerprint256);

    // The connection made before the reload is still the one it was: it gets what is published now.
    assert.equal((await sdk(port).trigger('rotation', 'after-reload', { n: 1 })).status, 200);
    assert.deepEqual(await within(subscriber.next('event'), GUARD_MS, 'the event after the reload'), {
      kind: 'event',
      channel: 'rotation',
      event: 'after-reload',
      data: { n: 1 },
    });
    // pusher-js connected once (its first state, `connecting`, comes before it can be watched) and never again.
    const states = subscriber.pending((line) => line.kind === 'state').map((line) => line.current);
    assert.deepEqual(states, ['connected']);

    // A file it cannot use: logged, and the certificate in service stays.
    await writeFile(cert, 'not a certificate\n');
    run.child.kill('SIGHUP');
    const refused = await within(
      run.next('TLS certificate not reloaded: the one in service stays'),
      GUARD_MS,
      'the refused reload',
    );
    assert.equal(refused.level, 50);
    assert.match((refused.err as { message: string }).message, /live\.pem holds no PEM certificate/);
    assert.equal((await handshake(port, pki.root.certPem)).serialNumber, second.serialNumber);
    assert.equal((await sdk(port).trigger('rotation', 'still-served', {})).status, 200);
    assert.equal((await within(subscriber.next('event'), GUARD_MS, 'the next event')).event, 'still-served');

    await subscriber.stop();
    assert.deepEqual(await within(run.stop(), GUARD_MS, 'herald to stop'), { code: 0, signal: null });
  });

  test('--workers 2: SIGHUP to the process started reaches every worker', async (t) => {
    const skip = await brokerSkip('redis');
    if (skip) return t.skip(skip);
    const prefix = uniquePrefix('tls-workers');
    const cert = await pki.write('workers.pem', first.certPem);
    const key = await pki.write('workers.key', first.keyPem);
    const run = herald(['--workers', '2', '--redis-url', REDIS_URL, '--ssl-cert', cert, '--ssl-key', key], {
      HERALD_ADAPTER_PREFIX: prefix,
    });
    try {
      const worker = (line: Line) => isListening(line) && line.workers === undefined;
      const port = (await within(run.next(worker), GUARD_MS, 'a worker to listen')).port as number;
      await within(run.next(worker), GUARD_MS, 'the other worker to listen');

      await Promise.all([writeFile(cert, second.certPem), writeFile(key, second.keyPem)]);
      run.child.kill('SIGHUP');
      const pids = new Set<unknown>();
      for (let i = 0; i < 2; i++) {
        pids.add((await within(run.next('TLS certificate reloaded'), GUARD_MS, 'a worker to reload')).pid);
      }
      assert.equal(pids.size, 2);
      // Whichever worker takes it, a new connection sees the new certificate.
      for (let i = 0; i < 4; i++) {
        assert.equal((await handshake(port, pki.root.certPem)).serialNumber, second.serialNumber);
      }
      assert.deepEqual(await within(run.stop(), GUARD_MS, 'the workers to stop'), { code: 0, signal: null });
    } finally {
      await deleteRedisPrefix(prefix);
    }
  });
});
