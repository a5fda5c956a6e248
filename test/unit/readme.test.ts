import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { z } from 'zod';
import { appSchema, configSchema } from '../../src/config/schema.js';

const root = new URL('../../../', import.meta.url);

/** The README and every page of docs/: a setting is documented on the page of its subject. */
const docs = [
  readFileSync(new URL('README.md', root), 'utf8'),
  ...readdirSync(new URL('docs/', root))
    .filter((name) => name.endsWith('.md'))
    .map((name) => readFileSync(new URL(`docs/${name}`, root), 'utf8')),
].join('\n');

function leafPaths(schema: z.ZodType, prefix = ''): string[] {
  let s = schema;
  while (
    s instanceof z.ZodDefault ||
    s instanceof z.ZodPrefault ||
    s instanceof z.ZodOptional ||
    s instanceof z.ZodNullable
  )
    s = s.unwrap() as z.ZodType;
  if (!(s instanceof z.ZodObject) || prefix === 'apps') return [prefix];
  return Object.entries(s.shape as Record<string, z.ZodType>).flatMap(([key, child]) =>
    key === 'apps' ? ['apps'] : leafPaths(child, prefix ? `${prefix}.${key}` : key),
  );
}

test('the README and docs/ document every server setting and every app setting', () => {
  const missing = [...leafPaths(configSchema), ...Object.keys(appSchema.shape)].filter(
    (path) => !docs.includes(`\`${path}\``) && !docs.includes(`\`${path}\`,`),
  );
  assert.deepEqual(missing, []);
});
