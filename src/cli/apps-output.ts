import { appSchema } from '../config/schema.js';
import type { App } from '../core/apps/app.js';
import { visibleText } from '../core/visible-text.js';

/**
 * What `herald apps` prints for people (`--json` prints the objects themselves). Every value comes
 * from a store others write to, so each is shown through `visibleText`: one line, no terminal control.
 */

const TABLE_COLUMNS = ['id', 'key', 'enabled', 'maxConnections', 'webhooks'] as const;

/** The apps as a table: id, key, enabled, maxConnections (`unlimited` for none) and how many webhooks. */
export function appTable(apps: readonly App[]): string {
  const rows = apps.map((app) => [
    visibleText(app.id),
    visibleText(app.key),
    app.enabled ? 'yes' : 'no',
    app.maxConnections === null ? 'unlimited' : String(app.maxConnections),
    String(app.webhooks.length),
  ]);
  return columns([[...TABLE_COLUMNS], ...rows]);
}

/** Field order of the schema (docs/configuration.md, Apps), then any field the schema does not know. */
const FIELD_ORDER = Object.keys(appSchema.shape);

/**
 * Every field of `app`, one per line: strings as they are, anything else as JSON, so that each value
 * shown is one `--set FIELD=VALUE` takes back.
 */
export function appDetails(app: App): string {
  const record = app as Record<string, unknown>;
  const names = [
    ...FIELD_ORDER.filter((name) => name in record),
    ...Object.keys(record).filter((name) => !FIELD_ORDER.includes(name)),
  ];
  return columns(names.map((name) => [visibleText(name), fieldText(record[name])]));
}

function fieldText(value: unknown): string {
  return visibleText(typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value)));
}

/** Rows of cells, each column as wide as its widest cell plus two spaces; no trailing blanks. */
function columns(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]! + 2)))
        .join('')
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join('');
}
