import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { autobahn, closeAutobahn, openAutobahn } from '../helpers/autobahn.js';
import { finished, GUARD_MS, killRuns, pusherJs, type Run, started } from '../helpers/cli.js';
import { APP, connected, nextEvent, pusherSdk, sdkAuthorizer } from '../helpers/herald.js';
import { within } from '../helpers/raw-client.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

/**
 * The operator's flags through the real CLI: `--webhook-url`, `--verbose` frame logging and
 * `--log-format`.
 */

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'herald-cli-ops-'));
});
after(async () => {
  killRuns();
  await rm(dir, { recursive: true, force: true });
});

async function stop(run: Run): Promise<void> {
  run.child.kill('SIGTERM');
  await within(run.exited, GUARD_MS, 'herald to exit');
}

/** The JSON log records of stdout (the connection hint between them is not JSON). */
function records(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('--webhook-url', () => {
  test('every event type of the first app goes to each URL given, as with a webhook in the config', async () => {
    const [one, two] = await Promise.all([WebhookReceiver.start(), WebhookReceiver.start()]);
    const { run, port } = await started(['--webhook-url', one.url, '--webhook-url', two.url], {
      HERALD_WEBHOOKS_VACATE_DELAY_MS: '0',
    });
    const sdk = pusherSdk(port);
    const client = pusherJs(
      port,
      APP.key,
      sdkAuthorizer(sdk, (socketId) => ({ user_id: `u-${socketId}` })),
    );
    try {
      await within(connected(client), GUARD_MS, 'pusher-js to connect');
      const channel = client.subscribe('presence-hooked');
      await within(nextEvent(channel, 'pusher:subscription_succeeded'), GUARD_MS, 'subscription');
      client.unsubscribe('presence-hooked');
      for (const receiver of [one, two]) {
        for (const name of ['channel_occupied', 'member_added', 'member_removed', 'channel_vacated']) {
          const event = await within(
            receiver.event((e) => e.name === name && e.channel === 'presence-hooked'),
            GUARD_MS,
            `${name} at ${receiver.url}`,
          );
          assert.equal(event.channel, 'presence-hooked');
        }
        const request = receiver.accepted[0]!;
        assert.equal(request.headers['x-pusher-key'], APP.key);
        assert.doesNotThrow(() =>
          sdk.webhook({ headers: request.headers, rawBody: request.rawBody }).getEvents(),
        );
        assert.ok(sdk.webhook({ headers: request.headers, rawBody: request.rawBody }).isValid());
      }
    } finally {
      client.disconnect();
      await stop(run);
      await Promise.all([one.close(), two.close()]);
    }
  });

  test('a URL that is not http(s) stops the start with exit 2, naming the flag', async () => {
    const { code, stdout, stderr } = await finished([
      'start',
      '--port',
      '0',
      '--webhook-url',
      'localhost:9000/x',
    ]);
    assert.equal(code, 2);
    assert.match(stderr, /--webhook-url: "localhost:9000\/x" is not an http:\/\/ or https:\/\/ URL/);
    assert.doesNotMatch(stdout, /listening/);
  });
});

describe('--verbose', () => {
  const TICKET = 'joe-ticket-7f3a9c21d';
  const CRA_SECRET = 'alice-secret-51c0e8';

  test('every frame of pusher-js and autobahn (JSON and MessagePack), with its fields; no signature or ticket shows', async () => {
    const config = join(dir, 'verbose.yaml');
    await writeFile(
      config,
      [
        'wamp:',
        '  realms:',
        '    - name: realm1',
        '      roles:',
        '        - name: user',
        '          permissions:',
        '            - { uri: "com.", match: prefix, allow: { call: true, register: true, publish: true, subscribe: true } }',
        '  auth:',
        '    ticket:',
        '      principals:',
        `        joe: { ticket: ${TICKET}, role: user }`,
        '    wampcra:',
        '      users:',
        `        alice: { secret: ${CRA_SECRET}, role: user }`,
        '',
      ].join('\n'),
    );
    const { run, port } = await started(['--config', config, '--verbose', '--log-format', 'json']);
    const sdk = pusherSdk(port);
    /** Pusher's `<key>:<signature>`, then the WAMP-CRA signature. */
    const signatures: string[] = [];
    const authorizer = sdkAuthorizer(sdk);
    const handler = authorizer.channelAuthorization.customHandler;
    authorizer.channelAuthorization.customHandler = (params, callback) =>
      handler(params, (error, data) => {
        if (data) signatures.push(data.auth, data.auth.slice(data.auth.indexOf(':') + 1));
        callback(error, data);
      });
    const client = pusherJs(port, APP.key, authorizer);
    const url = `ws://127.0.0.1:${port}/ws`;
    try {
      const socketId = await within(connected(client), GUARD_MS, 'pusher-js to connect');
      const channel = client.subscribe('private-orders');
      await within(nextEvent(channel, 'pusher:subscription_succeeded'), GUARD_MS, 'subscription');
      assert.equal(signatures.length, 2);

      const ticket = await openAutobahn({
        url,
        realm: 'realm1',
        authmethods: ['ticket'],
        authid: 'joe',
        onchallenge: () => TICKET,
      });
      const ticketSession = String(ticket.session.id);
      await closeAutobahn(ticket.connection);
      const cra = await openAutobahn({
        url,
        realm: 'realm1',
        authmethods: ['wampcra'],
        authid: 'alice',
        serializers: [new autobahn.serializer.MsgpackSerializer()],
        onchallenge: (_session, _method, extra) => {
          const signature = autobahn.auth_cra.sign(CRA_SECRET, extra.challenge as string);
          signatures.push(signature);
          return signature;
        },
      });
      const craSession = String(cra.session.id);
      await closeAutobahn(cra.connection);
      await within(
        run.waitForStdout(new RegExp(`"session":"${craSession}"[^\\n]*"frame":"\\(closed`)),
        GUARD_MS,
        'the close of the MessagePack session',
      ).catch((err) => {
        throw new Error(`${(err as Error).message}\n${run.stdout()}`);
      });

      const frames = records(run.stdout()).filter((r) => r.msg === 'frame');
      const pusher = frames.filter((r) => r.protocol === 'pusher');
      const established = pusher.find((r) => String(r.frame).includes('pusher:connection_established'));
      assert.deepEqual(
        [established?.direction, established?.socketId, established?.appKey, established?.level],
        ['out', socketId, APP.key, 30],
      );
      const subscribe = pusher.find(
        (r) => r.direction === 'in' && String(r.frame).includes('pusher:subscribe'),
      );
      assert.deepEqual(JSON.parse(String(subscribe?.frame)), {
        event: 'pusher:subscribe',
        data: { auth: '[redacted]', channel: 'private-orders' },
      });
      assert.equal(subscribe?.socketId, socketId);
      assert.ok(
        pusher.some((r) => r.direction === 'out' && String(r.frame).includes('subscription_succeeded')),
      );

      const wamp = frames.filter((r) => r.protocol === 'wamp');
      const welcomes = wamp.filter((r) => r.direction === 'out' && String(r.frame).startsWith('[2,'));
      assert.deepEqual(
        welcomes.map((r) => [r.session, r.realm]),
        [
          [ticketSession, 'realm1'],
          [craSession, 'realm1'],
        ],
      );
      const hello = wamp.find((r) => r.direction === 'in' && String(r.frame).startsWith('[1,'));
      assert.deepEqual([hello?.realm, hello?.session], ['realm1', null]);
      const authenticates = wamp.filter((r) => String(r.frame).startsWith('[5,'));
      assert.deepEqual(
        authenticates.map((r) => JSON.parse(String(r.frame))[1]),
        ['[redacted]', '[redacted]'],
      );
      // The MessagePack session's frames are shown as JSON too.
      assert.ok(wamp.some((r) => r.session === craSession && String(r.frame).startsWith('[6,')));

      assert.equal(signatures.length, 3);
      const everything = run.stdout() + run.stderr();
      for (const secret of [...signatures, TICKET, CRA_SECRET]) {
        assert.ok(secret.length > 8 && !everything.includes(secret), `${secret} is in the output`);
      }
    } finally {
      client.disconnect();
      await stop(run);
    }
  });
});

describe('--log-format', () => {
  test('json: every log line parses; pretty: none does, one readable line each', async () => {
    const json = await started(['--log-format', 'json']);
    await stop(json.run);
    const jsonLines = json.run.stdout().split('\n');
    const logLines = jsonLines.filter((line) => line.startsWith('{'));
    assert.ok(logLines.some((line) => /listening on/.test(line)));
    for (const line of logLines) assert.doesNotThrow(() => JSON.parse(line), line);
    assert.ok(records(json.run.stdout()).some((r) => r.msg === 'shutting down' && r.level === 30));

    const pretty = await started(['--log-format', 'pretty', '--verbose']);
    const client = pusherJs(pretty.port, APP.key);
    try {
      const socketId = await within(connected(client), GUARD_MS, 'pusher-js to connect');
      await within(
        pretty.run.waitForStdout(
          new RegExp(`INFO {2}frame protocol=pusher direction=out socketId=${socketId}`),
        ),
        GUARD_MS,
        'a frame line',
      );
    } finally {
      client.disconnect();
      await stop(pretty.run);
    }
    const lines = pretty.run.stdout().split('\n');
    assert.ok(
      lines.some((line) =>
        /^\d\d:\d\d:\d\d\.\d{3} INFO {2}Herald .* listening on http:\/\/127\.0\.0\.1:\d+ /.test(line),
      ),
    );
    assert.ok(
      lines.some((line) => /^\d\d:\d\d:\d\d\.\d{3} INFO {2}shutting down signal=SIGTERM$/.test(line)),
    );
    for (const line of lines) {
      assert.throws(() => JSON.parse(line), SyntaxError, `a JSON line in pretty output: ${line}`);
    }
  });
});
