import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppInputError, AppManager, MAX_GRACE_MS, parseDuration } from '../../../src/apps/manage.js';
import { appSchema } from '../../../src/config/schema.js';
import { AppStoreReadOnly } from '../../../src/core/apps/app.js';
import { StaticAppStore } from '../../../src/core/apps/static-store.js';

const APP = appSchema.parse({ id: '1', key: 'k', secret: 's' });

/** The problems of the `AppInputError` `run` rejects with. */
async function problems(run: Promise<unknown>): Promise<readonly string[]> {
  const err = await run.then(
    () => assert.fail('expected AppInputError'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AppInputError, String(err));
  return err.problems;
}

describe('AppManager', () => {
  const manager = new AppManager(new StaticAppStore([APP]));

  test('fields the schema refuses are named, each, before the store is asked', async () => {
    assert.deepEqual(await problems(manager.create({ maxConnections: -1, nope: 1, key: '' })), [
      'key: Too small: expected string to have >=1 characters',
      'maxConnections: Too small: expected number to be >0',
      'nope: Unrecognized key: "nope"',
    ]);
    assert.deepEqual(await problems(manager.create([])), ['an object of app fields']);
    assert.deepEqual(await problems(manager.update('1', { id: '2' })), ['id: an app keeps its id']);
  });

  test('a grace period is whole milliseconds from 0 to a year', async () => {
    for (const grace of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, MAX_GRACE_MS + 1]) {
      assert.deepEqual(await problems(manager.rotateSecret('1', grace)), [
        'grace: a duration from 0 to a year',
      ]);
    }
    // Within the bounds the store is asked, which the config file refuses.
    await assert.rejects(manager.rotateSecret('1', MAX_GRACE_MS), AppStoreReadOnly);
  });

  test('an unknown app is undefined, not an error', async () => {
    assert.equal(await manager.update('9', { enabled: false }), undefined);
    assert.equal(await manager.rotateSecret('9', 0), undefined);
    assert.equal(await manager.show('9'), undefined);
  });
});

describe('parseDuration', () => {
  test('units, plain milliseconds, and what is not a duration', () => {
    assert.equal(parseDuration('10m'), 600_000);
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('2h'), 7_200_000);
    assert.equal(parseDuration('1d'), 86_400_000);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('250'), 250);
    assert.equal(parseDuration('1.5s'), 1500);
    for (const text of ['', 'm', '-1s', '10 parsecs', '1e3', '0x10'])
      assert.equal(parseDuration(text), undefined, text);
  });
});
