import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppInputError, AppManager } from '../../../src/apps/manage.js';
import { appSchema } from '../../../src/config/schema.js';
import { AppStoreReadOnly } from '../../../src/core/apps/app.js';
import { StaticAppStore } from '../../../src/core/apps/static-store.js';

/** The config store: its writes are refused, so whatever passes validation comes back AppStoreReadOnly. */
const manager = new AppManager(new StaticAppStore([appSchema.parse({ id: 'a', key: 'ka', secret: 'sa' })]));

test('text no app store keeps as given (NUL, lone surrogates) is invalid input, field by field', async () => {
  await assert.rejects(
    manager.create({
      secret: 'x\u0000y',
      key: 'k\uD800',
      webhooks: [
        { url: 'https://example.com/hook', filter: { channelPrefix: 'news\u0000' } },
        { url: 'https://example.com/hook', headers: { 'X-\uDC00': 'v' } },
      ],
    }),
    (err: unknown) => {
      assert.ok(err instanceof AppInputError);
      const fields = err.problems.map((p) => p.slice(0, p.indexOf(':')));
      assert.deepEqual(fields, ['key', 'secret', 'webhooks.0.filter.channelPrefix', 'webhooks.1.headers']);
      assert.match(err.problems[0]!, /NUL character or a lone surrogate/);
      return true;
    },
  );
  await assert.rejects(manager.update('a', { secret: '\u0000' }), AppInputError);
});

test('any other text goes through to the store: surrogate pairs, other control characters, any script', async () => {
  for (const secret of ['😀 pair', 'tab\there', 'ünïcödé ✓', '\u007f\u0001']) {
    await assert.rejects(manager.create({ secret }), AppStoreReadOnly, JSON.stringify(secret));
  }
});
