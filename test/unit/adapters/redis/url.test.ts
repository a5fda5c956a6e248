import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseClusterUrl, parseSentinelUrl, RedisUrlError } from '../../../../src/adapters/redis/url.js';
import { ConfigError, parseConfig } from '../../../../src/config/load.js';

describe('parseSentinelUrl', () => {
  test('other schemes are not its business', () => {
    assert.equal(parseSentinelUrl('redis://127.0.0.1:6379'), undefined);
    assert.equal(parseSentinelUrl('rediss://cache:6380/2'), undefined);
  });

  test('sentinels, master name, credentials, db and the sentinels password', () => {
    assert.deepEqual(parseSentinelUrl('redis+sentinel://10.0.0.1:26379,10.0.0.2:26380/mymaster'), {
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: '10.0.0.2', port: 26380 },
      ],
      name: 'mymaster',
    });
    assert.deepEqual(
      parseSentinelUrl('redis+sentinel://app:p%40ss@s1,[::1]:26400/main?db=3&sentinelPassword=watch'),
      {
        sentinels: [
          { host: 's1', port: 26379 },
          { host: '::1', port: 26400 },
        ],
        name: 'main',
        username: 'app',
        password: 'p@ss',
        db: 3,
        sentinelPassword: 'watch',
      },
    );
  });

  test('a URL without a master name, a bad port or a bad db is refused, naming the problem', () => {
    assert.throws(() => parseSentinelUrl('redis+sentinel://s1:26379'), RedisUrlError);
    assert.throws(() => parseSentinelUrl('redis+sentinel://s1:port/m'), /"s1:port" in .* is not host:port/);
    assert.throws(() => parseSentinelUrl('redis+sentinel://s1/m?db=x'), /db "x" .* is not a number/);
  });

  test('redis+cluster://: the nodes to start from and their credentials', () => {
    assert.equal(parseClusterUrl('redis+sentinel://s1/m'), undefined);
    assert.deepEqual(parseClusterUrl('redis+cluster://:secret@10.0.0.1:7000,10.0.0.2'), {
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 6379 },
      ],
      password: 'secret',
    });
    assert.throws(() => parseClusterUrl('redis+cluster://a:1/db'), RedisUrlError);
  });

  test('the configuration refuses a Redis URL it cannot use', () => {
    const problems = (url: string) => {
      try {
        parseConfig({ adapter: { driver: 'redis', url } });
        return [];
      } catch (err) {
        if (err instanceof ConfigError) return err.problems;
        throw err;
      }
    };
    assert.deepEqual(problems('redis+sentinel://s1:26379,s2:26379/m'), []);
    assert.deepEqual(problems('http://cache:6379'), [
      'adapter.url: "http://cache:6379" is not a redis://, rediss://, redis+sentinel:// or redis+cluster:// URL',
    ]);
    assert.equal(problems('redis+sentinel://s1:0/m').length, 1);
  });
});
