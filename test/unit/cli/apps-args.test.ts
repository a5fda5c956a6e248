import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  type AppsRequest,
  AppsUsageError,
  parseAppsArgs,
  parseGrace,
  parseSets,
  setValue,
} from '../../../src/cli/apps-args.js';

const TOKEN = 'a'.repeat(40);

/** `herald apps <argv>` read with `env`, which must not be a usage error. */
function parsed(argv: string[], env: NodeJS.ProcessEnv = {}): Exclude<AppsRequest, { command: 'help' }> {
  const request = parseAppsArgs(argv, env);
  assert.notEqual(request.command, 'help');
  return request as Exclude<AppsRequest, { command: 'help' }>;
}

/** The message of the usage error `herald apps <argv>` is. */
function refused(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    parseAppsArgs(argv, env);
  } catch (err) {
    assert.ok(err instanceof AppsUsageError, `${err}`);
    return err.message;
  }
  assert.fail(`herald apps ${argv.join(' ')} was not refused`);
}

describe('--set values', () => {
  test('JSON when it parses: numbers, booleans, null, arrays, objects, quoted strings', () => {
    assert.deepEqual(
      parseSets([
        'maxConnections=100',
        'clientEvents=true',
        'maxHttpRequestsPerSecond=null',
        'webhooks=[{"url":"https://x"}]',
        'key="0042"',
      ]),
      {
        maxConnections: 100,
        clientEvents: true,
        maxHttpRequestsPerSecond: null,
        webhooks: [{ url: 'https://x' }],
        key: '0042',
      },
    );
  });

  test('the text itself when it is not JSON', () => {
    assert.deepEqual(parseSets(['secret=abc', 'key=007', 'previousSecret=', 'allowedOrigins=https://x']), {
      secret: 'abc',
      key: '007',
      previousSecret: '',
      allowedOrigins: 'https://x',
    });
  });

  test('a text field takes the text as it is, even when it reads as JSON; a JSON string is unquoted; null where it may be null', () => {
    assert.deepEqual(parseSets(['key=1234', 'secret=true', 'id=null']), {
      key: '1234',
      secret: 'true',
      id: 'null',
    });
    assert.deepEqual(parseSets(['key="a b"', 'previousSecret=null', 'previousSecretExpiresAt=null']), {
      key: 'a b',
      previousSecret: null,
      previousSecretExpiresAt: null,
    });
    // Fields that are not text keep the JSON reading.
    assert.deepEqual(parseSets(['maxConnections=12', 'allowedOrigins=["x.example"]']), {
      maxConnections: 12,
      allowedOrigins: ['x.example'],
    });
  });

  test('the first = splits: the value may hold more', () => {
    assert.deepEqual(parseSets(['secret=a=b=c']), { secret: 'a=b=c' });
  });

  test('a field named __proto__ is a field (for the schema to refuse), not the prototype', () => {
    const fields = parseSets(['__proto__={"enabled":false}']);
    assert.equal(Object.getPrototypeOf(fields), Object.prototype);
    assert.deepEqual(Object.keys(fields), ['__proto__']);
  });

  test('refused: no =, no field, a field given twice', () => {
    assert.throws(() => parseSets(['maxConnections']), /--set takes FIELD=VALUE, not "maxConnections"/);
    assert.throws(() => parseSets(['=5']), /--set takes FIELD=VALUE, not "=5"/);
    assert.throws(() => parseSets(['key=a', 'key=b']), /--set key given twice/);
  });

  test('any JSON value comes back as itself; any other text as the text', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        assert.deepEqual(setValue(JSON.stringify(value)), JSON.parse(JSON.stringify(value)));
      }),
    );
    fc.assert(
      fc.property(fc.string(), (text) => {
        let json = true;
        try {
          JSON.parse(text);
        } catch {
          json = false;
        }
        if (!json) assert.equal(setValue(text), text);
      }),
    );
  });
});

describe('--grace', () => {
  test('durations in milliseconds; 0 for none', () => {
    assert.equal(parseGrace('10m'), 600_000);
    assert.equal(parseGrace('90s'), 90_000);
    assert.equal(parseGrace('2h'), 7_200_000);
    assert.equal(parseGrace('1d'), 86_400_000);
    assert.equal(parseGrace('500ms'), 500);
    assert.equal(parseGrace('0'), 0);
  });

  test('anything else is a usage error that says what a duration is', () => {
    for (const text of ['', '-1m', '5y', 'ten minutes', '1e3']) {
      assert.throws(
        () => parseGrace(text),
        (err) =>
          err instanceof AppsUsageError && /takes a duration such as 10m, 90s, 2h or 0/.test(err.message),
        text,
      );
    }
  });

  test('10 minutes when not given; only rotate-secret takes it', () => {
    assert.equal(parsed(['rotate-secret', '42']).graceMs, 600_000);
    assert.equal(parsed(['rotate-secret', '42', '--grace', '0']).graceMs, 0);
    assert.match(refused(['show', '42', '--grace', '1m']), /--grace is for rotate-secret, not show/);
  });
});

describe('herald apps arguments', () => {
  test('help, however asked', () => {
    for (const argv of [['--help'], ['-h'], ['help'], ['create', '--help']]) {
      assert.deepEqual(parseAppsArgs(argv, {}), { command: 'help' });
    }
  });

  test('a command is needed, and a known one', () => {
    assert.equal(refused([]), 'a command is needed');
    assert.equal(refused(['remove', '1']), 'unknown command "remove"');
  });

  test('the commands that name an app need its id, and take nothing more', () => {
    for (const command of ['show', 'update', 'enable', 'disable', 'delete', 'rotate-secret']) {
      assert.equal(refused([command]), `${command} needs the id of an app`);
    }
    assert.equal(refused(['show', '1', '2']), 'show: unexpected "2"');
    assert.equal(refused(['list', 'all']), 'list: unexpected "all"');
    assert.equal(refused(['create', '42']), 'create: unexpected "42"');
    assert.equal(parsed(['show', '42']).id, '42');
    // An id that looks like an option comes after --.
    assert.equal(parsed(['show', '--', '-1']).id, '-1');
  });

  test('create: --id, --key, --secret and --set together as the fields', () => {
    const request = parsed(['create', '--id', '42', '--key', 'k', '--set', 'maxConnections=5', '--json']);
    assert.equal(request.command, 'create');
    assert.equal(request.id, '42');
    assert.equal(request.json, true);
    assert.deepEqual(request.fields, { maxConnections: 5, id: '42', key: 'k' });
    assert.deepEqual(parsed(['create']).fields, {});
    assert.match(refused(['create', '--key', 'a', '--set', 'key=b']), /--key and --set key=… both given/);
  });

  test('update needs a --set; the credentials options are for create only', () => {
    assert.equal(refused(['update', '42']), 'update needs at least one --set FIELD=VALUE');
    assert.deepEqual(parsed(['update', '42', '--set', 'enabled=false']).fields, { enabled: false });
    assert.match(refused(['update', '42', '--key', 'k']), /--key is for create, not update/);
    assert.match(refused(['enable', '42', '--set', 'a=1']), /--set is for create and update, not enable/);
  });

  test("an unknown option or a missing option value is the parser's usage error", () => {
    assert.match(refused(['list', '--colour']), /Unknown option '--colour'/);
    assert.match(refused(['show', '1', '--config']), /argument missing/);
  });

  test('--config is the file of direct mode', () => {
    const request = parsed(['list', '--config', 'herald.yaml']);
    assert.equal(request.config, 'herald.yaml');
    assert.equal(request.remote, undefined);
  });

  describe('remote mode', () => {
    test('--api-url and --api-token', () => {
      const request = parsed(['list', '--api-url', 'http://10.0.0.5:9001', '--api-token', TOKEN]);
      assert.equal(request.remote?.url.href, 'http://10.0.0.5:9001/');
      assert.equal(request.remote?.token, TOKEN);
    });

    test('HERALD_API_URL and HERALD_API_TOKEN; the flags win', () => {
      const env = { HERALD_API_URL: 'https://admin.example.com/herald-admin', HERALD_API_TOKEN: TOKEN };
      assert.equal(parsed(['list'], env).remote?.url.href, 'https://admin.example.com/herald-admin');
      const flags = parsed(['list', '--api-url', 'http://127.0.0.1:1', '--api-token', 'other'], env);
      assert.deepEqual([flags.remote?.url.href, flags.remote?.token], ['http://127.0.0.1:1/', 'other']);
    });

    test('HERALD_API_TOKEN alone is the server setting api.token, not remote mode', () => {
      assert.equal(parsed(['list'], { HERALD_API_TOKEN: TOKEN }).remote, undefined);
      assert.equal(parsed(['list'], { HERALD_API_URL: '' }).remote, undefined);
    });

    test('a URL needs a token, and a token a URL', () => {
      assert.match(
        refused(['list', '--api-url', 'http://x']),
        /--api-url needs --api-token \(or HERALD_API_TOKEN\)/,
      );
      assert.match(refused(['list'], { HERALD_API_URL: 'http://x' }), /^HERALD_API_URL needs --api-token/);
      assert.match(refused(['list', '--api-token', TOKEN]), /--api-token goes with --api-url/);
    });

    test('an http:// or https:// URL without query', () => {
      const remote = (url: string) => refused(['list', '--api-url', url, '--api-token', TOKEN]);
      assert.match(remote('localhost:9001'), /must be http:\/\/ or https:\/\/, not localhost:\/\//);
      assert.match(remote('not a url'), /--api-url "not a url" is not a URL/);
      assert.match(remote('ws://x'), /must be http:\/\/ or https:\/\/, not ws:\/\//);
      assert.match(remote('http://x/?a=1'), /takes no query or fragment/);
    });

    test('migrate is direct only, and --config belongs to direct mode', () => {
      const remote = ['--api-url', 'http://x', '--api-token', TOKEN];
      assert.match(
        refused(['migrate', ...remote]),
        /migrate works on the database itself.*run it without --api-url/,
      );
      assert.match(refused(['migrate'], { HERALD_API_URL: 'http://x' }), /run it without HERALD_API_URL/);
      assert.match(
        refused(['list', '--config', 'h.json', ...remote]),
        /--config and --api-url exclude each other/,
      );
    });
  });
});
