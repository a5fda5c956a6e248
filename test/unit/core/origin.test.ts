import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkOrigin, type OriginPolicy, originEntryProblem, parseOrigin } from '../../../src/core/origin.js';

const allow = (allowedOrigins: string[], requireOrigin = false): OriginPolicy => ({
  allowedOrigins,
  requireOrigin,
});

/** The verdict for each header under one list, as a table to compare at once. */
function verdicts(list: string[], headers: (string | undefined)[]): Record<string, string> {
  const policy = allow(list);
  return Object.fromEntries(headers.map((h) => [String(h), checkOrigin(policy, h)]));
}

describe('parseOrigin', () => {
  test('scheme and host lowercased, default ports filled in', () => {
    assert.deepEqual(parseOrigin('HTTPS://App.Example.COM'), {
      scheme: 'https',
      host: 'app.example.com',
      port: 443,
    });
    assert.deepEqual(parseOrigin('http://localhost:3000'), { scheme: 'http', host: 'localhost', port: 3000 });
    assert.deepEqual(parseOrigin('http://[::1]:8080'), { scheme: 'http', host: '[::1]', port: 8080 });
    assert.deepEqual(parseOrigin('chrome-extension://abcdef'), {
      scheme: 'chrome-extension',
      host: 'abcdef',
      port: null,
    });
  });

  test('what is not a serialized origin is undefined', () => {
    for (const bad of [
      'null',
      '',
      'example.com',
      'https://example.com/',
      'https://example.com/path',
      'https://user@example.com',
      'https://example.com:99999',
      'https://example.com:',
      'https://exa mple.com',
      'https://bücher.example',
      'https://a..b',
      'https://a, https://b',
      `https://${'a'.repeat(2000)}.com`,
      '\u0000',
    ]) {
      assert.equal(parseOrigin(bad), undefined, bad);
    }
  });
});

describe('checkOrigin', () => {
  test('exact origins compare scheme, host and port', () => {
    assert.deepEqual(
      verdicts(
        ['https://app.example.com', 'http://localhost:3000'],
        [
          'https://app.example.com',
          'https://app.example.com:443',
          'https://APP.Example.com',
          'http://app.example.com',
          'https://app.example.com:8443',
          'https://other.example.com',
          'http://localhost:3000',
          'http://localhost:3001',
          'http://localhost',
          'https://localhost:3000',
        ],
      ),
      {
        'https://app.example.com': 'allowed',
        'https://app.example.com:443': 'allowed',
        'https://APP.Example.com': 'allowed',
        'http://app.example.com': 'not-allowed',
        'https://app.example.com:8443': 'not-allowed',
        'https://other.example.com': 'not-allowed',
        'http://localhost:3000': 'allowed',
        'http://localhost:3001': 'not-allowed',
        'http://localhost': 'not-allowed',
        'https://localhost:3000': 'not-allowed',
      },
    );
  });

  test('an entry with a default port written matches the origin browsers send without it', () => {
    assert.equal(checkOrigin(allow(['https://example.com:443']), 'https://example.com'), 'allowed');
    assert.equal(checkOrigin(allow(['http://example.com:80']), 'http://example.com'), 'allowed');
    assert.equal(checkOrigin(allow(['http://example.com:443']), 'http://example.com'), 'not-allowed');
  });

  test('a bare host (Laravel Reverb style) matches any scheme and port; with a port, that port', () => {
    assert.deepEqual(
      verdicts(
        ['Example.com', 'localhost:5173'],
        [
          'https://example.com',
          'http://example.com:8080',
          'https://www.example.com',
          'http://localhost:5173',
          'https://localhost:5173',
          'http://localhost:3000',
        ],
      ),
      {
        'https://example.com': 'allowed',
        'http://example.com:8080': 'allowed',
        'https://www.example.com': 'not-allowed',
        'http://localhost:5173': 'allowed',
        'https://localhost:5173': 'allowed',
        'http://localhost:3000': 'not-allowed',
      },
    );
  });

  test('*.example.com matches subdomains at any depth, not example.com nor look-alikes', () => {
    assert.deepEqual(
      verdicts(
        ['*.example.com'],
        [
          'https://a.example.com',
          'http://a.b.c.example.com:8080',
          'https://A.EXAMPLE.COM',
          'https://example.com',
          'https://badexample.com',
          'https://example.com.evil.net',
          'https://a.example.co',
        ],
      ),
      {
        'https://a.example.com': 'allowed',
        'http://a.b.c.example.com:8080': 'allowed',
        'https://A.EXAMPLE.COM': 'allowed',
        'https://example.com': 'not-allowed',
        'https://badexample.com': 'not-allowed',
        'https://example.com.evil.net': 'not-allowed',
        'https://a.example.co': 'not-allowed',
      },
    );
    assert.equal(checkOrigin(allow(['*.example.com', 'example.com']), 'https://example.com'), 'allowed');
  });

  test('a scheme and port narrow a wildcard entry; :* allows any port', () => {
    assert.deepEqual(
      verdicts(
        ['https://*.example.com', 'http://localhost:*'],
        [
          'https://a.example.com',
          'http://a.example.com',
          'https://a.example.com:8443',
          'http://localhost:1',
          'http://localhost',
          'https://localhost:3000',
        ],
      ),
      {
        'https://a.example.com': 'allowed',
        'http://a.example.com': 'not-allowed',
        'https://a.example.com:8443': 'not-allowed',
        'http://localhost:1': 'allowed',
        'http://localhost': 'allowed',
        'https://localhost:3000': 'not-allowed',
      },
    );
  });

  test('an entry in Unicode matches the punycode browsers send', () => {
    assert.equal(checkOrigin(allow(['https://Bücher.example']), 'https://xn--bcher-kva.example'), 'allowed');
  });

  test('* allows every origin and any header at all', () => {
    for (const header of ['https://x.y', 'null', 'garbage', 'a'.repeat(10_000)]) {
      assert.equal(checkOrigin(allow(['*']), header), 'allowed', header);
      assert.equal(checkOrigin(allow(['https://x.y', '*'], true), header), 'allowed', header);
    }
  });

  test('malformed headers (null, garbage, huge, repeated) never match a list', () => {
    const policy = allow(['https://example.com', '*.example.com', 'example.com']);
    for (const header of [
      'null',
      '',
      'garbage',
      'https://example.com/',
      'https://example.com, https://example.com',
      `https://${'a.'.repeat(5000)}example.com`,
      'https://example.com\u00ff',
    ]) {
      assert.equal(checkOrigin(policy, header), 'malformed', header);
    }
    assert.equal(checkOrigin(policy, ['https://example.com', 'https://example.com']), 'malformed');
    assert.equal(checkOrigin(policy, ['https://example.com']), 'allowed');
  });

  test('a missing header is allowed unless requireOrigin', () => {
    assert.equal(checkOrigin(allow(['https://example.com']), undefined), 'allowed');
    assert.equal(checkOrigin(allow([]), undefined), 'allowed');
    assert.equal(checkOrigin(allow(['https://example.com'], true), undefined), 'missing');
    assert.equal(checkOrigin(allow(['*'], true), undefined), 'missing');
    assert.equal(checkOrigin(allow(['*'], true), 'https://example.com'), 'allowed');
  });

  test('an empty list allows no origin', () => {
    assert.equal(checkOrigin(allow([]), 'https://example.com'), 'not-allowed');
  });

  test('an invalid entry (possible only past config validation) matches nothing', () => {
    assert.equal(checkOrigin(allow(['https://example.com/']), 'https://example.com'), 'not-allowed');
  });
});

describe('originEntryProblem', () => {
  test('accepts *, hosts, wildcards and origins', () => {
    for (const entry of [
      '*',
      'example.com',
      '*.example.com',
      'localhost:3000',
      'https://example.com',
      'https://*.example.com',
      'http://localhost:*',
      'http://[::1]:8080',
      'http://127.0.0.1:8000',
      'https://bücher.example',
    ]) {
      assert.equal(originEntryProblem(entry), undefined, entry);
    }
  });

  test('refuses paths, bad ports, stray stars and empty entries, naming the entry', () => {
    for (const entry of [
      '',
      'https://example.com/',
      'https://example.com/app',
      'https://example.com:70000',
      'example.*',
      '*example.com',
      '**.example.com',
      'https://',
      'null',
      'exa mple.com',
      'a..b',
    ]) {
      const problem = originEntryProblem(entry);
      assert.ok(problem?.includes(`"${entry}"`), `${entry}: ${problem}`);
    }
  });
});
