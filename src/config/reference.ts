import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { APP_SHORTCUT_ENV, envEntries } from './load.js';
import { configSchema } from './schema.js';
import { layers, unwrap } from './schema-layers.js';

/**
 * `docs/configuration.md`, generated from the schema alone: each setting's path, type, default (the
 * schema's own), environment variable (as `envEntries` derives it for `loadConfig`) and description
 * (its `.describe()`). Pure: the same schema gives the same text, which `npm run docs` writes and a
 * unit test compares with the committed file. The output is already in the form Biome formats
 * Markdown to, so `npm run lint` leaves it alone.
 */

/** One documented setting. */
export interface SettingDoc {
  /** `apps[].webhooks[].url`: `[]` for a list's items, `<authid>` for a map's values. */
  path: string;
  type: string;
  /** Markdown: a JSON value in backticks, `none` or `required`. */
  default: string;
  /** Markdown; absent for an object whose fields carry the variables. */
  environment?: string;
  description: string;
}

type Segment = { key: string } | { items: true } | { values: string };

interface Section {
  title: string;
  /** The paths under these are this section's; the longest match wins, the first section takes the rest. */
  prefixes: string[];
  intro: string;
}

/** The page's sections, in order. */
const SECTIONS: Section[] = [
  {
    title: 'Server',
    prefixes: [],
    intro: 'The process, its listener, and the limits that hold for every app.',
  },
  {
    title: 'TLS',
    prefixes: ['tls'],
    intro:
      'TLS on the public port: `wss://` and `https://` on the same port, the certificate re-read on SIGHUP ' +
      '(see [Operations](operations.md#tls)).',
  },
  {
    title: 'Admin listener',
    prefixes: ['api'],
    intro:
      'A second listener for the HTTP API and `/metrics`, on a private address (see ' +
      '[Operations](operations.md#admin-listener)).',
  },
  {
    title: 'Apps',
    prefixes: ['apps'],
    intro: 'Each entry of `apps` is one app, with its own credentials, limits and webhooks.',
  },
  {
    title: 'App store',
    prefixes: ['appStore'],
    intro:
      'Where apps come from: the `apps` above, or a PostgreSQL or MySQL table managed with `herald apps` ' +
      '(see [Apps](apps.md)).',
  },
  {
    title: 'Webhook delivery',
    prefixes: ['webhooks'],
    intro: "How every app's webhooks are delivered; which webhooks an app has is `apps[].webhooks`.",
  },
  {
    title: 'WAMP router',
    prefixes: ['wamp'],
    intro: 'The WAMP v2 router, on the same port as the Pusher protocol.',
  },
  {
    title: 'WAMP realms',
    prefixes: ['wamp.realms'],
    intro: 'The realms of the WAMP router, each with its roles and their permission rules.',
  },
  {
    title: 'WAMP authentication',
    prefixes: ['wamp.auth'],
    intro: 'The authentication methods the WAMP router offers, and their principals.',
  },
  {
    title: 'Dashboard',
    prefixes: ['dashboard'],
    intro:
      'The dashboard at `/dashboard`: who may sign in and how long a session lasts (see ' +
      '[Dashboard](dashboard.md)). Passwords are kept as scrypt hashes.',
  },
  {
    title: 'Cluster adapter',
    prefixes: ['adapter'],
    intro: 'How the nodes of a cluster reach each other: one process alone, or a broker (Redis or NATS).',
  },
];

/** The Markdown of `docs/configuration.md`. */
export function configurationReference(schema: z.ZodType = configSchema): string {
  const bySection = new Map<Section, SettingDoc[]>(SECTIONS.map((section) => [section, []]));
  for (const doc of settingDocs(schema)) bySection.get(sectionOf(doc.path))!.push(doc);
  const shortcuts = Object.values(APP_SHORTCUT_ENV).map((name) => `\`${name}\``);
  const blocks = [
    '# Configuration',
    'This page is generated from `src/config/schema.ts` by `npm run docs`: change a setting there, not here.',
    'Herald reads its settings from a file (`herald start --config FILE`: YAML when its name ends in ' +
      '`.yaml` or `.yml`, JSON otherwise; the same settings either way), then from `HERALD_*` ' +
      'environment variables, then from command-line flags; each overrides the one before. Unknown keys ' +
      'and wrong types are errors: a configuration with problems is refused before anything listens, ' +
      'every bad field named, with the file and line that wrote it.',
    "An environment variable's name is `HERALD_` plus the setting's path in upper snake case " +
      '(`adapter.url` is `HERALD_ADAPTER_URL`). Numbers and booleans (`true`, `false`, `1`, `0`) are ' +
      'parsed; lists and maps take JSON and are given as a whole. ' +
      `${shortcuts.slice(0, -1).join(', ')} and ${shortcuts.at(-1)} set the first app's credentials, ` +
      'like `--app-id`, `--app-key` and `--app-secret`.',
  ];
  for (const [section, docs] of bySection) {
    if (docs.length === 0) continue;
    blocks.push(`## ${section.title}`, section.intro);
    for (const doc of docs) blocks.push(...settingBlocks(doc));
  }
  return `${blocks.join('\n\n')}\n`;
}

function sectionOf(path: string): Section {
  let best = { section: SECTIONS[0]!, length: -1 };
  for (const section of SECTIONS) {
    for (const prefix of section.prefixes) {
      if (within(path, prefix) && prefix.length > best.length) best = { section, length: prefix.length };
    }
  }
  return best.section;
}

function settingBlocks(doc: SettingDoc): string[] {
  const facts = [`- Type: ${doc.type}`, `- Default: ${doc.default}`];
  if (doc.environment) facts.push(`- Environment: ${doc.environment}`);
  return [`### \`${doc.path}\``, doc.description, facts.join('\n')];
}

const within = (path: string, prefix: string) =>
  path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[]`);

/**
 * Every setting in the schema, depth first in the schema's order: each leaf, and each list, map,
 * optional or nullable object, or object whose default is more than its fields' defaults.
 */
export function settingDocs(schema: z.ZodType = configSchema): SettingDoc[] {
  const env = envEntries(schema);
  const docs: SettingDoc[] = [];
  const visit = (node: z.ZodType, path: Segment[]) => {
    const core = unwrap(node);
    const fields = objectShape(core);
    const item = core instanceof z.ZodArray ? (core.element as z.ZodType) : undefined;
    const value = core instanceof z.ZodRecord ? (core.valueType as z.ZodType) : undefined;
    const nested = fields ?? (item && objectShape(unwrap(item))) ?? (value && objectShape(unwrap(value)));
    if (path.length > 0 && (!nested || !fields || ownsMoreThanFields(node, core))) {
      docs.push(document(node, path, env));
    }
    if (fields) {
      for (const [key, child] of Object.entries(fields)) visit(child, [...path, { key }]);
    } else if (item && nested) {
      visit(item, [...path, { items: true }]);
    } else if (value && nested) {
      visit(value, [...path, { values: keyName(core) }]);
    }
  };
  visit(schema, []);
  return docs;
}

function document(node: z.ZodType, path: Segment[], env: ReturnType<typeof envEntries>): SettingDoc {
  const name = pathText(path);
  const description = describedAs(node);
  if (!description) throw new Error(`the setting ${name} has no description in the schema`);
  const environment = environmentOf(path, env);
  return {
    path: name,
    type: typeOf(node),
    default: defaultOf(node),
    ...(environment ? { environment } : {}),
    description,
  };
}

function pathText(path: Segment[]): string {
  let text = '';
  for (const segment of path) {
    if ('key' in segment) text += text ? `.${segment.key}` : segment.key;
    else if ('items' in segment) text += '[]';
    else text += `.<${segment.values}>`;
  }
  return text;
}

/**
 * The fields of an object, or of every object a union admits (a field in several of them is shown
 * once; a discriminator's literals are shown together).
 */
function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  if (schema instanceof z.ZodObject) return schema.shape as Record<string, z.ZodType>;
  if (!(schema instanceof z.ZodUnion)) return undefined;
  const shapes = (schema.options as z.ZodType[]).map((option) => objectShape(unwrap(option)));
  if (!shapes.every((shape) => shape !== undefined)) return undefined;
  const merged: Record<string, z.ZodType[]> = {};
  for (const shape of shapes) {
    for (const [key, field] of Object.entries(shape)) merged[key] = [...(merged[key] ?? []), field];
  }
  return Object.fromEntries(
    Object.entries(merged).map(([key, fields]) => {
      const literals = fields.map(unwrap);
      const isChoice = (f: z.ZodType) => f instanceof z.ZodLiteral || f instanceof z.ZodEnum;
      if (fields.length === 1 || !literals.every(isChoice)) return [key, fields[0]!];
      const values = literals.flatMap((f) =>
        f instanceof z.ZodLiteral ? [...f.values] : (f as z.ZodEnum).options,
      ) as [string, ...string[]];
      const described = fields.map(describedAs).find(Boolean);
      // A variant's default (the discriminator of the variant chosen when it is absent) stays shown.
      const fallback = fields.map(defaultValue).find((d) => d.has);
      let literal: z.ZodType = z.literal([...new Set(values)]);
      if (fallback) literal = (literal as z.ZodLiteral<string>).default(fallback.value as string);
      return [key, described ? literal.describe(described) : literal];
    }),
  );
}

function describedAs(schema: z.ZodType): string | undefined {
  return layers(schema).find((s) => s.description)?.description;
}

function keyName(record: z.ZodType): string {
  const meta = record.meta() as { keyName?: unknown } | undefined;
  return typeof meta?.keyName === 'string' ? meta.keyName : 'key';
}

/** An object is a setting of its own when it can be absent or null, or its default is not its fields'. */
function ownsMoreThanFields(node: z.ZodType, core: z.ZodType): boolean {
  const all = layers(node);
  if (all.some((s) => s instanceof z.ZodOptional || s instanceof z.ZodNullable)) return true;
  const own = defaultValue(node);
  if (!own.has) return false;
  const result = core.safeParse({});
  return !result.success || !isDeepStrictEqual(result.data, own.value);
}

/** The value the schema puts in when the setting is left out, if it does. */
function defaultValue(schema: z.ZodType): { has: boolean; value?: unknown } {
  for (const s of layers(schema)) {
    if (s instanceof z.ZodDefault) return { has: true, value: s.def.defaultValue };
    if (s instanceof z.ZodPrefault) return { has: true, value: s.parse(undefined) };
  }
  return { has: false };
}

function defaultOf(schema: z.ZodType): string {
  const own = defaultValue(schema);
  if (own.has) return `\`${JSON.stringify(withoutDefaults(own.value, unwrap(schema), false))}\``;
  return layers(schema).some((s) => s instanceof z.ZodOptional) ? 'none' : 'required';
}

/**
 * A default as a reader would write it: inside lists, fields that have their own default and hold
 * it are left out (`[{"name":"realm1"}]`, not the realm with all its limits).
 */
function withoutDefaults(value: unknown, schema: z.ZodType, strip: boolean): unknown {
  const core = unwrap(schema);
  if (Array.isArray(value) && core instanceof z.ZodArray) {
    return value.map((item) => withoutDefaults(item, core.element as z.ZodType, true));
  }
  const fields = objectShape(core);
  if (!fields || value === null || typeof value !== 'object') return value;
  const kept: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
    const schemaOfField = fields[key];
    if (!schemaOfField) {
      kept[key] = field;
      continue;
    }
    const own = defaultValue(schemaOfField);
    if (strip && own.has && isDeepStrictEqual(own.value, field)) continue;
    kept[key] = withoutDefaults(field, schemaOfField, strip);
  }
  return kept;
}

function typeOf(schema: z.ZodType): string {
  const nullable = layers(schema).some((s) => s instanceof z.ZodNullable);
  const type = coreType(unwrap(schema));
  return nullable ? `${type} or \`null\`` : type;
}

function coreType(s: z.ZodType): string {
  const def = s._zod.def as { type: string; format?: string; checks?: { _zod: { def: unknown } }[] };
  const checks = (def.checks ?? []).map((c) => c._zod.def as CheckDef);
  switch (def.type) {
    case 'string':
      if (def.format === 'url') return 'URL';
      return checks.some((c) => c.check === 'min_length' && (c.minimum ?? 0) > 0)
        ? 'non-empty string'
        : 'string';
    case 'number':
      return numberType(checks);
    case 'boolean':
      return 'boolean';
    case 'enum':
      return `one of ${(s as z.ZodEnum).options.map((o) => `\`${JSON.stringify(o)}\``).join(', ')}`;
    case 'array': {
      const nonEmpty = checks.some((c) => c.check === 'min_length' && (c.minimum ?? 0) > 0);
      return `${nonEmpty ? 'non-empty ' : ''}list of ${plural(typeOf((s as z.ZodArray).element as z.ZodType))}`;
    }
    case 'record':
      return `map of ${keyName(s)} to ${typeOf((s as z.ZodRecord).valueType as z.ZodType)}`;
    case 'object':
    case 'union':
      return 'object';
    case 'literal': {
      const values = [...(s as z.ZodLiteral).values].map((v) => `\`${JSON.stringify(v)}\``);
      return values.length === 1 ? values[0]! : `one of ${values.join(', ')}`;
    }
    default:
      return def.type;
  }
}

interface CheckDef {
  check: string;
  format?: string;
  value?: number;
  inclusive?: boolean;
  minimum?: number;
}

function numberType(checks: CheckDef[]): string {
  const integer = checks.some((c) => c.check === 'number_format' && /int/.test(c.format ?? ''));
  const step = integer ? 1 : 0;
  let min: number | undefined;
  let max: number | undefined;
  for (const c of checks) {
    if (c.check === 'greater_than' && c.value !== undefined) min = c.inclusive ? c.value : c.value + step;
    if (c.check === 'less_than' && c.value !== undefined) max = c.inclusive ? c.value : c.value - step;
  }
  const kind = integer ? 'integer' : 'number';
  if (min !== undefined && max !== undefined) return `${kind} from ${min} to ${max}`;
  if (min !== undefined) return `${kind}, at least ${min}`;
  if (max !== undefined) return `${kind}, at most ${max}`;
  return kind;
}

function plural(type: string): string {
  if (type.startsWith('one of ')) return type.slice('one of '.length);
  if (type === 'object') return 'objects';
  if (type === 'URL') return 'URLs';
  if (/^(non-empty )?string$/.test(type)) return `${type}s`;
  return type;
}

/**
 * The variable that sets this setting: its own, or that of the list or map it is part of (which takes
 * the whole list or map as JSON). An object whose fields have variables has none of its own.
 */
function environmentOf(path: Segment[], env: ReturnType<typeof envEntries>): string | undefined {
  const keys: string[] = [];
  for (const segment of path) {
    if (!('key' in segment)) break;
    keys.push(segment.key);
  }
  const covers = (e: (typeof env)[number]) =>
    e.path.length <= keys.length && e.path.every((key, i) => key === keys[i]);
  const entry = env.find(covers);
  if (!entry) return undefined;
  const name = `\`${entry.name}\``;
  if (entry.path.length === path.length) return entry.kind === 'json' ? `${name} (JSON)` : name;
  const field = pathText(path).match(/^apps\[\]\.(id|key|secret)$/)?.[1] as keyof typeof APP_SHORTCUT_ENV;
  const shortcut = field ? `; the first app's also \`${APP_SHORTCUT_ENV[field]}\`` : '';
  return `part of ${name} (JSON)${shortcut}`;
}
