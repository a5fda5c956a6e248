import type { z } from 'zod';
import { appSchema } from '../config/schema.js';
import type { App, AppChanges } from '../core/apps/app.js';

/**
 * The columns of an apps table, one per field of `appSchema` and derived from it, so that a new app
 * setting is a new column by construction (`migrations.ts` says which schema version adds it). The
 * database stores translate each kind into their own SQL type; the values below are what both
 * drivers take and give.
 */

/** How a field is kept: JSON holds arrays and objects, timestamps the ISO instants of the schema. */
export type ColumnKind = 'text' | 'boolean' | 'integer' | 'json' | 'timestamp';

export type AppField = keyof App;

export interface Column {
  readonly field: AppField;
  /** The field's name in snake_case: `maxConnections` is `max_connections`. */
  readonly name: string;
  readonly kind: ColumnKind;
  /** NOT NULL: the schema has no default for the field, so every row must give it (id, key, secret). */
  readonly required: boolean;
  /** The schema allows null: a NULL is that null. A NULL in any other column stands for the schema's default. */
  readonly nullable: boolean;
  /** The most characters the schema allows, for text columns that have a bound. */
  readonly maxLength: number | undefined;
  /** The schema's default, for columns added to tables whose rows predate them. */
  readonly default: unknown;
}

type Def = { type: string; innerType?: z.ZodType; format?: string | null };
const defOf = (schema: z.ZodType) => schema._zod.def as unknown as Def;

const snakeCase = (field: string) => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function columnFor(field: AppField, schema: z.ZodType): Column {
  let inner = schema;
  let hasDefault = false;
  let nullable = false;
  for (let def = defOf(inner); def.innerType; def = defOf(inner)) {
    if (def.type === 'default' || def.type === 'prefault' || def.type === 'optional') hasDefault = true;
    if (def.type === 'nullable') nullable = true;
    inner = def.innerType;
  }
  const def = defOf(inner);
  const kind = kindOf(def, inner);
  if (!kind)
    throw new Error(`app field ${field}: no column kind for a zod ${def.type}; add one to columns.ts`);
  const { maxLength } = inner as { maxLength?: number | null };
  return {
    field,
    name: snakeCase(field),
    kind,
    required: !hasDefault && !nullable,
    nullable,
    maxLength: kind === 'text' ? (maxLength ?? undefined) : undefined,
    default: hasDefault ? schema.parse(undefined) : undefined,
  };
}

function kindOf(def: Def, schema: z.ZodType): ColumnKind | undefined {
  switch (def.type) {
    case 'string':
      return def.format === 'datetime' ? 'timestamp' : 'text';
    case 'enum':
      return 'text';
    case 'boolean':
      return 'boolean';
    case 'number':
      // Limits are integers; a fractional setting would need a column kind of its own.
      return (schema as { isInt?: boolean }).isInt ? 'integer' : undefined;
    case 'array':
    case 'object':
    case 'record':
      return 'json';
    default:
      return undefined;
  }
}

/** Every column, in the order of the schema's fields. */
export const COLUMNS: readonly Column[] = Object.entries(appSchema.shape).map(([field, schema]) =>
  columnFor(field as AppField, schema as z.ZodType),
);

const BY_FIELD = new Map(COLUMNS.map((column) => [column.field, column]));

/** The column of `field`. */
export function columnOf(field: AppField): Column {
  const column = BY_FIELD.get(field);
  if (!column) throw new Error(`no column for app field ${field}`);
  return column;
}

/** A field's value as the drivers take it: JSON as text, timestamps as `Date`. */
export function encode(column: Column, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (column.kind) {
    case 'json':
      return JSON.stringify(value);
    case 'timestamp':
      return new Date(value as string);
    default:
      return value;
  }
}

/** The columns `changes` sets and their values, in column order. */
export function columnValues(changes: AppChanges | App): { column: Column; value: unknown }[] {
  const given = changes as Partial<Record<AppField, unknown>>;
  return COLUMNS.filter((c) => given[c.field] !== undefined).map((column) => ({
    column,
    value: encode(column, given[column.field]),
  }));
}

/**
 * A column's value as the schema takes it; undefined (the schema's default) for a NULL it cannot hold,
 * and for a column the row lacks (a table older than the schema, read by a build that knows it).
 */
function decode(column: Column, value: unknown): unknown {
  if (value === undefined) return undefined;
  if (value === null) return column.nullable ? null : undefined;
  switch (column.kind) {
    case 'boolean':
      // MySQL's BOOLEAN is TINYINT(1).
      return typeof value === 'number' ? value !== 0 : value;
    case 'integer':
      // PostgreSQL's BIGINT arrives as a string; the schema bounds it to safe integers.
      return typeof value === 'string' || typeof value === 'bigint' ? Number(value) : value;
    case 'json':
      // MariaDB's JSON is text; PostgreSQL and MySQL parse it.
      return typeof value === 'string' ? JSON.parse(value) : value;
    case 'timestamp':
      return value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString();
    default:
      return value;
  }
}

/** A row whose columns the schema refuses (edited by hand, say). */
export class InvalidAppRow extends Error {}

/** The app a row of `COLUMNS` holds, completed and checked by the schema. */
export function rowToApp(row: Record<string, unknown>): App {
  const input: Record<string, unknown> = {};
  for (const column of COLUMNS) {
    const value = decode(column, row[column.name]);
    if (value !== undefined) input[column.field] = value;
  }
  const result = appSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  throw new InvalidAppRow(`the row of app "${String(row.id)}" is not a valid app: ${problems.join('; ')}`);
}

/** A UTF-16 code unit of a surrogate pair without its other half. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * What in `fields` a database would not keep exactly, one problem per place (`webhooks.0.headers.X`):
 * text that is not Unicode (a lone surrogate, which UTF-8 cannot encode: the drivers would store
 * U+FFFD instead, and a key would silently become another) and, where `nul` is false, U+0000, which
 * PostgreSQL's text and jsonb refuse. Such an app is refused rather than stored changed.
 */
export function unstorableText(fields: AppChanges | App, options: { nul: boolean }): string[] {
  const problems: string[] = [];
  const visit = (value: unknown, path: string): void => {
    if (typeof value === 'string') {
      if (LONE_SURROGATE.test(value))
        problems.push(`${path}: holds a lone UTF-16 surrogate, which is not text`);
      else if (!options.nul && value.includes('\u0000'))
        problems.push(`${path}: holds U+0000, which the database cannot store`);
    } else if (Array.isArray(value)) {
      for (const [i, item] of value.entries()) visit(item, `${path}.${i}`);
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        visit(key, `${path} (a name)`);
        visit(item, `${path}.${key}`);
      }
    }
  };
  for (const [field, value] of Object.entries(fields)) visit(value, field);
  return problems;
}
