import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { z } from 'zod';
import { configSchema } from '../../../src/config/schema.js';
import { unwrap } from '../../../src/config/schema-layers.js';

const readme = readFileSync(new URL('../../../../README.md', import.meta.url), 'utf8');
const reference = readFileSync(new URL('../../../../docs/configuration.md', import.meta.url), 'utf8');

/** The fields of an object, or of every object a union admits. */
function fields(schema: z.ZodType): [string, z.ZodType][] | undefined {
  if (schema instanceof z.ZodObject) return Object.entries(schema.shape as Record<string, z.ZodType>);
  if (schema instanceof z.ZodUnion) {
    const all = (schema.options as z.ZodType[]).map((o) => fields(unwrap(o)));
    return all.every((f) => f !== undefined) ? all.flat() : undefined;
  }
  return undefined;
}

/**
 * Every leaf setting (one that holds no object of settings), as the pattern of its path in the
 * reference: a list's items are `[]`, a map's values `.<name>`. Walked here rather than through the
 * generator, so that a setting the generator skipped is caught.
 */
function leafPatterns(schema: z.ZodType, prefix = ''): string[] {
  const s = unwrap(schema);
  const own = fields(s);
  if (own) {
    return own.flatMap(([key, child]) =>
      leafPatterns(child, prefix ? `${prefix}\\.${literal(key)}` : literal(key)),
    );
  }
  if (s instanceof z.ZodArray && fields(unwrap(s.element as z.ZodType))) {
    return leafPatterns(s.element as z.ZodType, `${prefix}\\[\\]`);
  }
  if (s instanceof z.ZodRecord && fields(unwrap(s.valueType as z.ZodType))) {
    return leafPatterns(s.valueType as z.ZodType, `${prefix}\\.<[a-z]+>`);
  }
  return [prefix];
}

const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('docs/configuration.md documents every leaf setting of the schema', () => {
  const patterns = [...new Set(leafPatterns(configSchema))];
  assert.ok(patterns.length > 60, `only ${patterns.length} settings found: the walk is broken`);
  assert.ok(patterns.includes('apps\\[\\]\\.id'));
  assert.ok(patterns.includes('wamp\\.auth\\.wampcra\\.users\\.<[a-z]+>\\.salt'));
  const missing = patterns.filter((pattern) => !new RegExp(`^### \`${pattern}\`$`, 'm').test(reference));
  assert.deepEqual(missing, []);
});

test("the README's Configuration section points to docs/configuration.md", () => {
  const start = readme.indexOf('\n## Configuration\n');
  const end = readme.indexOf('\n## ', start + 1);
  assert.ok(start >= 0, 'the README has no Configuration section');
  const section = readme.slice(start, end < 0 ? undefined : end);
  assert.match(section, /\[docs\/configuration\.md\]\(docs\/configuration\.md\)/);
});
