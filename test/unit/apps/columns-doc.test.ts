import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { COLUMNS } from '../../../src/apps/columns.js';
import { COLUMNS_BEGIN, COLUMNS_END, columnsTable, withColumnsTable } from '../../../src/apps/columns-doc.js';

const committed = readFileSync(new URL('../../../../docs/apps.md', import.meta.url), 'utf8');

describe('docs/apps.md, the columns of an apps table', () => {
  test('are what the app schema gives (npm run docs writes them)', () => {
    assert.equal(
      withColumnsTable(committed),
      committed,
      'docs/apps.md differs from what src/apps/columns.ts generates: run `npm run docs`',
    );
  });

  test('name every column, and a table without its markers is refused', () => {
    const table = columnsTable();
    for (const c of COLUMNS) assert.match(table, new RegExp(`^\\| \`${c.name}\` +\\| \`${c.field}\` `, 'm'));
    assert.throws(
      () => withColumnsTable('# Apps\n'),
      new RegExp(COLUMNS_BEGIN.slice(0, 20).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
    );
    assert.ok(committed.indexOf(COLUMNS_BEGIN) < committed.indexOf(COLUMNS_END));
  });
});
