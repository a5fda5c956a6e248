import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Authorizer, ruleUri } from '../../../../src/protocol/wamp/authorizer.js';
import { isId, MAX_ID, randomId } from '../../../../src/protocol/wamp/ids.js';
import {
  compareWildcards,
  isValidUri,
  type MatchPolicy,
  matchesWildcard,
  parseWildcard,
} from '../../../../src/protocol/wamp/uri.js';
import { UriMap } from '../../../../src/protocol/wamp/uri-map.js';

describe('URI checks (WAMP spec, Basic Profile, URIs)', () => {
  const cases: [string, 'exact' | 'prefix' | 'wildcard', 'loose' | 'strict', boolean][] = [
    ['com.myapp.topic1', 'exact', 'loose', true],
    ['com.myApp.my-topic', 'exact', 'loose', true],
    ['com.myApp.x', 'exact', 'strict', false],
    ['com.my_app.x1', 'exact', 'strict', true],
    ['com..x', 'exact', 'loose', false],
    ['com.x.', 'exact', 'loose', false],
    ['', 'exact', 'loose', false],
    ['com.a b', 'exact', 'loose', false],
    ['com.a#b', 'exact', 'loose', false],
    ['com.x.', 'prefix', 'loose', true],
    ['', 'prefix', 'loose', true],
    ['com..x', 'prefix', 'loose', false],
    ['com..x', 'wildcard', 'loose', true],
    ['.a.', 'wildcard', 'strict', true],
    ['com..X', 'wildcard', 'strict', false],
  ];
  for (const [uri, match, check, valid] of cases) {
    test(`"${uri}" is ${valid ? 'valid' : 'invalid'} for ${match}/${check}`, () => {
      assert.equal(isValidUri(uri, match, check), valid);
    });
  }

  test('stays linear on long hostile input', () => {
    const uri = `${'a.'.repeat(200_000)}#`;
    const started = process.hrtime.bigint();
    assert.equal(isValidUri(uri), false);
    assert.ok(process.hrtime.bigint() - started < 1_000_000_000n);
  });
});

describe('UriMap', () => {
  const map = new UriMap<string>();
  map.set('a.b.c', 'exact', 'exact a.b.c');
  map.set('a.b', 'prefix', 'prefix a.b');
  map.set('a.', 'prefix', 'prefix a.');
  map.set('a1.b2..d4.e5', 'wildcard', 'wild 1');
  map.set('a1.b2.c33..e5', 'wildcard', 'wild 2');
  map.set('com..c', 'wildcard', 'wild com..c');

  test('best: exact, then the longest prefix', () => {
    assert.equal(map.best('a.b.c'), 'exact a.b.c');
    assert.equal(map.best('a.b.d'), 'prefix a.b');
    assert.equal(map.best('a.bx'), 'prefix a.b');
    assert.equal(map.best('a.x'), 'prefix a.');
    assert.equal(map.best('b.x'), undefined);
  });

  test('best: the wildcard with literals first wins', () => {
    assert.equal(map.best('a1.b2.c33.d4.e5'), 'wild 2');
    assert.equal(map.best('a1.b2.x.d4.e5'), 'wild 1');
  });

  test('matchAll: prefixes are string prefixes, wildcards need equal component counts', () => {
    assert.deepEqual(map.matchAll('a.b.c'), ['exact a.b.c', 'prefix a.b', 'prefix a.']);
    assert.deepEqual(map.matchAll('com.b.c'), ['wild com..c']);
    assert.deepEqual(map.matchAll('com.b.c.d'), []);
    assert.deepEqual(map.matchAll('com.c'), []);
  });

  test('get, delete and values by policy', () => {
    const m = new UriMap<number>();
    m.set('x..z', 'wildcard', 1);
    m.set('x.y.z', 'exact', 2);
    assert.equal(m.get('x..z', 'wildcard'), 1);
    assert.equal(m.get('x..z', 'exact'), undefined);
    assert.deepEqual([...m.values('wildcard')], [1]);
    assert.equal(m.delete('x..z', 'wildcard'), true);
    assert.equal(m.delete('x..z', 'wildcard'), false);
    assert.deepEqual(m.matchAll('x.y.z'), [2]);
  });
});

describe('permissions (docs/wamp.md, Authorization)', () => {
  const allow = (call: boolean, register: boolean, publish: boolean, subscribe: boolean) => ({
    call,
    register,
    publish,
    subscribe,
  });
  const authorizer = new Authorizer([
    {
      name: 'user',
      permissions: [
        {
          uri: 'com.app.',
          match: 'prefix',
          allow: allow(true, false, true, true),
          disclose: { caller: true, publisher: false },
        },
        {
          uri: 'com.app.admin',
          match: 'exact',
          allow: allow(false, false, false, false),
          disclose: { caller: false, publisher: false },
        },
        {
          uri: 'com.*.public',
          allow: allow(false, false, false, true),
          disclose: { caller: false, publisher: false },
        },
      ],
    },
  ]);

  test('exact beats prefix, prefix covers the rest, no rule denies', () => {
    assert.deepEqual(authorizer.authorize('user', 'com.app.x', 'call'), {
      allow: true,
      disclose: true,
      namesMeta: false,
    });
    assert.equal(authorizer.authorize('user', 'com.app.x', 'register').allow, false);
    assert.equal(authorizer.authorize('user', 'com.app.admin', 'call').allow, false);
    assert.equal(authorizer.authorize('user', 'org.x', 'subscribe').allow, false);
    assert.equal(authorizer.authorize('nobody', 'com.app.x', 'call').allow, false);
  });

  test('starred rules become wildcards and prefixes', () => {
    assert.equal(authorizer.authorize('user', 'com.other.public', 'subscribe').allow, true);
    assert.deepEqual(ruleUri('com.example.*', undefined), { uri: 'com.example.', match: 'prefix' });
    assert.deepEqual(ruleUri('com.*.foo.*', undefined), { uri: 'com..foo.', match: 'wildcard' });
    assert.deepEqual(ruleUri('*', undefined), { uri: '', match: 'prefix' });
    assert.deepEqual(ruleUri('com.x', undefined), { uri: 'com.x', match: 'exact' });
  });
});

describe('IDs (WAMP spec, Basic Profile, IDs)', () => {
  test('random IDs are integers in [1, 2^53 − 1] and spread over the range', () => {
    const ids = Array.from({ length: 2000 }, randomId);
    assert.ok(ids.every((id) => Number.isSafeInteger(id) && id >= 1 && id < MAX_ID));
    assert.ok(ids.some((id) => id > 2 ** 52));
    assert.equal(new Set(ids).size, ids.length);
  });

  test('isId accepts [1, 2^53] integers only', () => {
    assert.deepEqual([0, 1, 2 ** 53, 2 ** 53 + 2, 1.5, -1, '1'].map(isId), [
      false,
      true,
      true,
      false,
      false,
      false,
      false,
    ]);
  });
});

describe('UriMap against the plain definition', () => {
  /** Components from a small alphabet, so that generated patterns and URIs often meet. */
  const component = fc.constantFrom('a', 'b', 'c', 'ab');
  const uri = fc.array(component, { minLength: 1, maxLength: 4 }).map((parts) => parts.join('.'));
  const pattern = fc.array(fc.oneof(component, fc.constant('')), { minLength: 1, maxLength: 4 });
  const entry = fc.oneof(
    uri.map((u) => [u, 'exact'] as const),
    fc.tuple(uri, fc.nat(3)).map(([u, cut]) => [u.slice(0, Math.max(0, u.length - cut)), 'prefix'] as const),
    pattern.map((parts) => [parts.join('.'), 'wildcard'] as const),
  );
  type Entry = readonly [string, MatchPolicy];

  function plainMatches(entries: Map<string, Entry>, target: string): Entry[] {
    const parts = target.split('.');
    const hits = [...entries.values()].filter(([u, match]) =>
      match === 'exact'
        ? u === target
        : match === 'prefix'
          ? target.startsWith(u)
          : matchesWildcard(parseWildcard(u), parts),
    );
    return hits;
  }

  test('matchAll and best agree with a scan of every entry, through sets and deletes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(entry, fc.boolean()), { maxLength: 40 }),
        fc.array(uri, { minLength: 1, maxLength: 10 }),
        (operations, targets) => {
          const map = new UriMap<string>();
          const entries = new Map<string, Entry>();
          for (const [[u, match], remove] of operations) {
            const key = `${match} ${u}`;
            if (remove) {
              assert.equal(map.delete(u, match), entries.delete(key));
            } else {
              map.set(u, match, key);
              entries.set(key, [u, match]);
            }
          }
          for (const target of targets) {
            const expected = plainMatches(entries, target).map(([u, m]) => `${m} ${u}`);
            assert.deepEqual([...map.matchAll(target)].sort(), [...expected].sort());
            const got = map.best(target);
            const byKind = (kind: MatchPolicy) =>
              expected.filter((k) => k.startsWith(`${kind} `)).map((k) => k.slice(kind.length + 1));
            const [exact] = byKind('exact');
            const [longest] = byKind('prefix').sort((a, b) => b.length - a.length);
            if (exact !== undefined) assert.equal(got, `exact ${exact}`);
            else if (longest !== undefined) assert.equal(got, `prefix ${longest}`);
            else if (byKind('wildcard').length === 0) assert.equal(got, undefined);
            else {
              // The most specific wildcard wins; equally specific ones tie, and either is right.
              assert.ok(got !== undefined && expected.includes(got));
              const winner = parseWildcard(got.slice('wildcard '.length));
              for (const w of byKind('wildcard')) assert.ok(compareWildcards(parseWildcard(w), winner) <= 0);
            }
          }
        },
      ),
    );
  });

  test('a wildcard pattern of 200,000 components is matched without running out of stack', () => {
    const map = new UriMap<number>();
    const deep = Array.from({ length: 200_000 }, () => '').join('.');
    map.set(deep, 'wildcard', 1);
    const target = Array.from({ length: 200_000 }, () => 'x').join('.');
    assert.deepEqual(map.matchAll(target), [1]);
    assert.equal(map.delete(deep, 'wildcard'), true);
    assert.deepEqual(map.matchAll(target), []);
  });
});

describe('the privileged meta API needs a rule that names wamp. (docs/wamp.md, "Authorization")', () => {
  const everything = { call: true, register: true, publish: true, subscribe: true };
  const none = { caller: false, publisher: false };
  const authorizer = new Authorizer([
    { name: 'open', permissions: [{ uri: '*', allow: everything, disclose: none }] },
    {
      name: 'admin',
      permissions: [
        { uri: '', match: 'prefix', allow: everything, disclose: none },
        { uri: 'wamp.session.kill_all', match: 'exact', allow: everything, disclose: none },
        { uri: 'wamp.*', allow: { ...everything, call: false }, disclose: none },
      ],
    },
  ]);

  test('a catch-all rule allows the meta API without naming it', () => {
    const decision = authorizer.authorize('open', 'wamp.session.kill_all', 'call');
    assert.deepEqual(decision, { allow: true, disclose: false, namesMeta: false });
  });

  test('an exact or prefix rule under wamp. names it; the rule that applies decides', () => {
    assert.equal(authorizer.authorize('admin', 'wamp.session.kill_all', 'call').namesMeta, true);
    assert.equal(authorizer.authorize('admin', 'wamp.session.on_join', 'subscribe').namesMeta, true);
    // `wamp.*` applies to wamp.session.kill and denies the call: named, but not allowed.
    assert.deepEqual(authorizer.authorize('admin', 'wamp.session.kill', 'call'), {
      allow: false,
      disclose: false,
      namesMeta: false,
    });
    assert.equal(authorizer.authorize('admin', 'com.app.x', 'call').namesMeta, false);
  });
});
