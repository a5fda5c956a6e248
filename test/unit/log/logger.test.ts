import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLogger, logFormat } from '../../../src/log/logger.js';

describe('logFormat', () => {
  test('unset: pretty on a terminal, json otherwise; set: as set', () => {
    assert.equal(logFormat({}, { tty: true }), 'pretty');
    assert.equal(logFormat({}, { tty: false }), 'json');
    assert.equal(logFormat({ logFormat: 'json' }, { tty: true }), 'json');
    assert.equal(logFormat({ logFormat: 'pretty' }, { tty: false }), 'pretty');
  });

  test('createLogger honours the level in both formats', () => {
    for (const format of ['json', 'pretty'] as const) {
      const logger = createLogger({ logLevel: 'warn', logFormat: format }, { tty: false });
      assert.equal(logger.level, 'warn');
      assert.equal(logger.isLevelEnabled('info'), false);
    }
  });
});
