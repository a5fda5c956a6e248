import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bounded, serverName, unavailable } from '../../../src/apps/database-errors.js';
import { AppStoreUnavailable } from '../../../src/core/apps/app.js';

test('the server a message names: host and port, the default port when the URL has none', () => {
  assert.equal(
    serverName('PostgreSQL', 'postgres://u:p@db.internal/herald', 5432),
    'PostgreSQL at db.internal:5432',
  );
  assert.equal(serverName('MySQL', 'mysql://root@127.0.0.1:3307/test', 3306), 'MySQL at 127.0.0.1:3307');
  assert.equal(serverName('PostgreSQL', 'postgres:///herald?host=/run/postgresql', 5432), 'PostgreSQL');
  assert.equal(serverName('PostgreSQL', 'not a url', 5432), 'PostgreSQL');
});

test('a driver error becomes AppStoreUnavailable saying what happened, with the error as its cause', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  const err = unavailable('PostgreSQL at 127.0.0.1:5432', refused, () => undefined);
  assert.ok(err instanceof AppStoreUnavailable);
  assert.equal(
    err.message,
    'PostgreSQL at 127.0.0.1:5432 refused the connection (ECONNREFUSED): connect ECONNREFUSED 127.0.0.1:5432',
  );
  assert.equal(err.cause, refused);

  const login = Object.assign(new Error('password authentication failed for user "herald"'), {
    code: '28P01',
  });
  const phrases = ({ code }: { code?: unknown }) => (code === '28P01' ? 'refused the login' : undefined);
  assert.match(
    unavailable('PostgreSQL at h:5432', login, phrases).message,
    /^PostgreSQL at h:5432 refused the login \(28P01\): password/,
  );
  assert.equal(unavailable('MySQL', new Error('odd'), () => undefined).message, 'MySQL failed: odd');

  const already = new AppStoreUnavailable('table is not migrated');
  assert.equal(
    unavailable('MySQL', already, () => undefined),
    already,
    'a message of our own is kept',
  );
});

test('bounded: the result in time, the timeout error otherwise, and a late failure goes nowhere', async () => {
  assert.equal(await bounded(Promise.resolve(1), 1000, () => new Error('late')), 1);
  let fail!: (err: Error) => void;
  const never = new Promise<number>((_, reject) => {
    fail = reject;
  });
  await assert.rejects(
    bounded(never, 10, () => new AppStoreUnavailable('too slow')),
    /too slow/,
  );
  fail(new Error('after the deadline')); // would be an unhandled rejection if nobody caught it
});
