import { COLUMNS, type Column } from './columns.js';
import { mysqlType } from './mysql-schema.js';
import { postgresType } from './postgres-schema.js';

/** Where the generated table of `docs/apps.md` starts and ends. */
export const COLUMNS_BEGIN = '<!-- columns: generated from the app schema by `npm run docs` -->';
export const COLUMNS_END = '<!-- end of columns -->';

/** What a NULL in the column stands for. */
function nullMeans(c: Column): string {
  if (c.required) return 'not allowed';
  if (c.nullable) return '`null`';
  return `the default, \`${JSON.stringify(c.default)}\``;
}

/**
 * The columns of an apps table as a Markdown table (the block between `COLUMNS_BEGIN` and
 * `COLUMNS_END` in docs/apps.md): each app field's column, its type in each database and what NULL
 * means there. Already in the form Biome formats tables to.
 */
export function columnsTable(): string {
  const rows = [
    ['column', 'app field', 'PostgreSQL', 'MySQL, MariaDB', 'NULL'],
    ...COLUMNS.map((c) => [`\`${c.name}\``, `\`${c.field}\``, postgresType(c), mysqlType(c), nullMeans(c)]),
    ['`created_at`', '', 'TIMESTAMPTZ', 'DATETIME(3)', 'not allowed'],
    ['`updated_at`', '', 'TIMESTAMPTZ', 'DATETIME(3)', 'not allowed'],
  ];
  const widths = rows[0]!.map((_, i) => Math.max(3, ...rows.map((r) => [...r[i]!].length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  const [head, ...body] = rows;
  return [line(head!), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** `text` (docs/apps.md) with its generated block made anew. */
export function withColumnsTable(text: string): string {
  const begin = text.indexOf(COLUMNS_BEGIN);
  const end = text.indexOf(COLUMNS_END);
  if (begin < 0 || end < begin) throw new Error(`docs/apps.md lacks ${COLUMNS_BEGIN} … ${COLUMNS_END}`);
  return `${text.slice(0, begin + COLUMNS_BEGIN.length)}\n\n${columnsTable()}\n\n${text.slice(end)}`;
}
