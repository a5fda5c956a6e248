import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PeerCertificate } from 'node:tls';
import { networkProblem, oneLine, type Reply } from '../../../../src/cli/doctor/net.js';
import {
  apiVerdict,
  certificateVerdict,
  clockVerdict,
  readyVerdict,
  webhookVerdict,
} from '../../../../src/cli/doctor/verdicts.js';

const NOW = Date.parse('2026-06-15T12:00:00Z');
const DAY = 86_400_000;

/** A date as OpenSSL prints it in a certificate: `Jun  1 00:00:00 2026 GMT`. */
function opensslDate(ms: number): string {
  const [, day, month, year, time] = /^\w+, (\d+) (\w+) (\d+) ([\d:]+)/.exec(new Date(ms).toUTCString())!;
  return `${month} ${String(Number(day)).padStart(2)} ${time} ${year} GMT`;
}

function certificate(from: number, to: number, names = 'DNS:localhost, IP Address:127.0.0.1') {
  return {
    certificate: {
      subject: { CN: 'localhost' },
      subjectaltname: names,
      valid_from: opensslDate(from),
      valid_to: opensslDate(to),
    } as Partial<PeerCertificate>,
    chainError: undefined as string | undefined,
  };
}

const reply = (status: number, body: unknown = ''): Reply => ({
  status,
  headers: {},
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

describe('certificateVerdict', () => {
  test('valid for a long time: ok, with the last day', () => {
    const v = certificateVerdict(certificate(NOW - DAY, NOW + 100 * DAY), 'localhost', NOW);
    assert.deepEqual([v.outcome, v.detail], ['ok', 'valid until 2026-09-23 (100 days)']);
  });

  test('expires within 14 days: a warning with the date', () => {
    const v = certificateVerdict(certificate(NOW - DAY, NOW + 3 * DAY + 60_000), 'localhost', NOW);
    assert.deepEqual([v.outcome, v.detail], ['warn', 'expires in 3 days, on 2026-06-18: renew it now']);
  });

  test('expired: a failure that says since when and what to do', () => {
    const v = certificateVerdict(certificate(NOW - 90 * DAY, NOW - 2 * DAY), '127.0.0.1', NOW);
    assert.equal(v.outcome, 'fail');
    assert.equal(
      v.detail,
      'expired on 2026-06-13: renew it, then restart what serves it (Herald or the TLS proxy)',
    );
  });

  test('expiry wins over an untrusted chain (OpenSSL reports both)', () => {
    const found = { ...certificate(NOW - 90 * DAY, NOW - 2 * DAY), chainError: 'certificate has expired' };
    assert.match(certificateVerdict(found, 'localhost', NOW).detail, /^expired on/);
  });

  test('not yet valid: check the clock', () => {
    const v = certificateVerdict(certificate(NOW + DAY, NOW + 90 * DAY), 'localhost', NOW);
    assert.equal(v.outcome, 'fail');
    assert.match(v.detail, /^not valid before 2026-06-16: check this machine's clock/);
  });

  test('for another name', () => {
    const v = certificateVerdict(certificate(NOW - DAY, NOW + 90 * DAY), 'example.com', NOW);
    assert.equal(v.outcome, 'fail');
    assert.match(v.detail, /^issued for another name \(.*\): use a certificate issued for example\.com$/);
  });

  test('an untrusted chain: serve the chain or pass --ca', () => {
    const found = {
      ...certificate(NOW - DAY, NOW + 90 * DAY),
      chainError: 'unable to verify the first certificate',
    };
    const v = certificateVerdict(found, 'localhost', NOW);
    assert.equal(v.outcome, 'fail');
    assert.match(
      v.detail,
      /^not trusted \(unable to verify the first certificate\): serve the full chain .*--ca FILE/,
    );
  });

  test('no certificate, or dates and names that are not what a certificate holds', () => {
    assert.equal(
      certificateVerdict({ certificate: {}, chainError: undefined }, 'localhost', NOW).outcome,
      'fail',
    );
    const odd = { valid_to: 'tomorrow', subjectaltname: 42 } as unknown as Partial<PeerCertificate>;
    const v = certificateVerdict({ certificate: odd, chainError: 'x' }, 'localhost', NOW);
    assert.deepEqual([v.outcome, v.detail], ['fail', 'the server sent no readable certificate']);
    const garbled = {
      ...certificate(NOW - DAY, NOW + 90 * DAY),
      certificate: { valid_to: opensslDate(NOW + 90 * DAY), subject: 7, subjectaltname: { a: 1 } },
    } as unknown as Parameters<typeof certificateVerdict>[0];
    assert.equal(certificateVerdict(garbled, 'localhost', NOW).outcome, 'fail');
  });
});

describe('clockVerdict', () => {
  // The header holds whole seconds, so the verdict may count one second more or less than the offset.
  const at = (offsetSeconds: number) => new Date(NOW + offsetSeconds * 1000).toUTCString();

  test('within 30 s: ok', () => {
    const v = clockVerdict(at(2), NOW, 600);
    assert.equal(v.outcome, 'ok');
    assert.match(v.detail, /^this machine's clock and the server's are [23] s apart$/);
  });

  test('over 30 s: a warning that names the window of signatures', () => {
    const v = clockVerdict(at(-45), NOW, 600);
    assert.equal(v.outcome, 'warn');
    assert.match(
      v.detail,
      /4[45] s apart \(the server is behind\): signed requests are refused beyond 600 s; synchronise/,
    );
  });

  test('over the window: a failure', () => {
    const v = clockVerdict(at(700), NOW, 600);
    assert.equal(v.outcome, 'fail');
    assert.match(
      v.detail,
      /are 70[01] s apart \(the server is ahead\): requests signed here are refused beyond 600 s/,
    );
  });

  test('no Date header, or one that is not a date: a warning, not a crash', () => {
    for (const date of [undefined, '', 'yesterday', ['Mon, 01 Jan 2024 00:00:00 GMT'], 42]) {
      const v = clockVerdict(date, NOW, 600);
      assert.deepEqual(
        [v.outcome, v.detail],
        ['warn', 'the server sent no readable Date header, so the clock skew is not known'],
      );
    }
  });
});

describe('apiVerdict', () => {
  const app = { id: 'app-id', key: 'app-key' };

  test('200: accepted', () => {
    assert.equal(apiVerdict(reply(200, {}), app).outcome, 'ok');
  });

  test("each refusal of the signature says which flag to check, in Herald's and hosted Pusher's words", () => {
    const cases: [number, string, string][] = [
      [
        401,
        'Invalid signature: you should have sent HmacSHA256Hex("POST\\n…", your_secret_key), but you sent "x"',
        'the HTTP API refused the signature: check --app-secret',
      ],
      [
        401,
        'Unknown auth_key "app-key" for app app-id',
        'the HTTP API does not know app key "app-key": check --app-key',
      ],
      [
        401,
        'Timestamp expired: Given timestamp (…) not within 600s of server time (…)',
        "the HTTP API refused the request's timestamp: synchronise this machine's clock and the server's (NTP)",
      ],
      [404, 'Unknown app id "app-id"', 'the server has no app "app-id": check --app-id'],
    ];
    for (const [status, error, detail] of cases) {
      assert.deepEqual(apiVerdict(reply(status, { error }), app), {
        name: 'HTTP API',
        outcome: 'fail',
        detail,
      });
    }
  });

  test('anything else: the status and the first line of what the server said, control characters removed', () => {
    assert.equal(
      apiVerdict(reply(403, { error: 'App app-id is disabled' }), app).detail,
      'the app is refused: HTTP 403: App app-id is disabled',
    );
    assert.match(
      apiVerdict(reply(429, { error: 'Too many' }), app).detail,
      /^over the app's request rate: HTTP 429: Too many; try again$/,
    );
    assert.equal(
      apiVerdict(reply(502, '<html>\n\u001b[31mBad\tgateway</html>'), app).detail,
      'the HTTP API answered HTTP 502: <html> [31mBad gateway</html>',
    );
    assert.equal(
      apiVerdict(reply(500, { error: 12 }), app).detail,
      'the HTTP API answered HTTP 500: {"error":12}',
    );
    assert.equal(apiVerdict(reply(401, ''), app).detail, 'the HTTP API answered HTTP 401');
  });
});

describe('readyVerdict', () => {
  test('200, 503 stopping, 503 over memory, 404, others', () => {
    assert.equal(readyVerdict(reply(200, { status: 'ready' }), 'h:1').outcome, 'ok');
    assert.match(readyVerdict(reply(503, { status: 'stopping' }), 'h:1').detail, /^h:1 is shutting down/);
    assert.match(
      readyVerdict(reply(503, { status: 'over-memory' }), 'h:1').detail,
      /memory ceiling .* raise maxMemoryMB$/,
    );
    assert.match(readyVerdict(reply(404, 'no'), 'h:1').detail, /is --url a Herald server\?$/);
    assert.equal(readyVerdict(reply(500, 'x'.repeat(500)), 'h:1').detail.length < 200, true);
  });
});

describe('webhookVerdict', () => {
  test('any answer is reachable; 404 and 5xx are warnings', () => {
    assert.equal(webhookVerdict('http://r/h', reply(405)).outcome, 'ok');
    assert.equal(webhookVerdict('http://r/h', reply(200)).outcome, 'ok');
    assert.match(webhookVerdict('http://r/h', reply(404)).detail, /check the path/);
    assert.equal(webhookVerdict('http://r/h', reply(502)).outcome, 'warn');
  });
});

describe('networkProblem and oneLine', () => {
  test('codes become words', () => {
    const problem = (code: string, message = 'x') =>
      networkProblem(Object.assign(new Error(message), { code }), 'h:1');
    assert.equal(problem('ECONNREFUSED'), 'connection refused at h:1');
    assert.equal(problem('ENOTFOUND'), 'cannot resolve the host of h:1');
    assert.equal(problem('HPE_INVALID_CONSTANT'), 'h:1 answered something that is not HTTP');
    assert.equal(problem('CERT_HAS_EXPIRED'), 'the TLS certificate of h:1 has expired');
    assert.equal(
      problem('DEPTH_ZERO_SELF_SIGNED_CERT'),
      'the TLS certificate of h:1 is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT)',
    );
    assert.equal(problem('', 'socket hang up'), 'h:1 closed the connection without answering');
    assert.equal(networkProblem('a string\nthrown', 'h:1'), 'h:1: a string thrown');
    assert.equal(networkProblem(null, 'h:1'), 'h:1: null');
  });

  test('oneLine flattens and cuts', () => {
    assert.equal(oneLine('a\r\n\tb\u2028c'), 'a b c');
    assert.equal(oneLine('x'.repeat(50), 10), `${'x'.repeat(9)}…`);
  });
});
